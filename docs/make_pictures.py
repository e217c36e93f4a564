"""Make the README's pictures from scikit-image's public-domain `astronaut` photo (Eileen Collins, NASA).

    uv run python docs/make_pictures.py

`shut-lid.png` is the person's own left eye open and at its most shut in `wink-left`, at 2x;
`shut-lid-before.png` is the same picture made by this script at commit d45ff22, before issue 14's lid.

No photo of a real person from ../shared/fixtures ever goes into the repository; this one is in the
public domain and ships inside a package.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from skimage import data

from pipeline import decode, faces, features, landmarks, motion, topology, warp
from pipeline.authoring.preview import contact_sheet
from pipeline.presets import load_preset

HERE = Path(__file__).resolve().parent
PRESETS = ("wink", "blink", "smile", "surprise")


def shut_lid(photo: bytes, zoom: int = 2) -> Image.Image:
    """The left eye (the person's own) of the photo's largest face, open and at its most shut in wink-left."""
    still = decode.decode(photo)
    box = faces.largest_face(still)
    assert box is not None
    face = motion.plan_motion(landmarks.face_mesh(still.rgb, box), load_preset("wink-left"))
    face_warp = warp.FaceWarp(face.still, still.width, still.height)
    index = int(face.eye_closure[:, 1].argmax())
    dest, source = face_warp.vertex_positions(face.frames[index]), face_warp.source_positions(face.sources[index])
    patch = warp.render(still.rgb, None, [(face_warp, dest, source)])
    assert patch is not None
    patch = features.paint(still, patch, [face], index)
    shut = still.rgb.copy()
    shut[patch.box.y0 : patch.box.y1, patch.box.x0 : patch.box.x1] = patch.rgb
    corners = face.still[list(topology.LEFT_EYE_CORNERS)]
    (cx, cy), iod = corners.mean(axis=0), face.pose.scale
    crop = (int(cx - 0.45 * iod), int(cy - 0.3 * iod), int(cx + 0.45 * iod), int(cy + 0.25 * iod))
    tiles = [Image.fromarray(picture).crop(crop) for picture in (still.rgb, shut)]
    width, height = tiles[0].size
    sheet = Image.new("RGB", (2 * width * zoom, height * zoom))
    for k, tile in enumerate(tiles):
        sheet.paste(tile.resize((width * zoom, height * zoom), Image.Resampling.LANCZOS), (k * width * zoom, 0))
    return sheet


def main() -> None:
    """What `wink preview --target any` writes for each preset, in one process (the models load once)."""
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, "PNG")
    for preset in PRESETS:
        out = HERE / f"preview-{preset}.png"
        out.write_bytes(contact_sheet(photo.getvalue(), preset, "any"))
        print(out)
    shut_lid(photo.getvalue()).save(HERE / "shut-lid.png")
    print(HERE / "shut-lid.png")


if __name__ == "__main__":
    main()
