"""Make the README's pictures from scikit-image's public-domain `astronaut` photo (Eileen Collins, NASA).

    uv run python docs/make_pictures.py

No photo of a real person from ../shared/fixtures ever goes into the repository; this one is in the
public domain and ships inside a package.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from skimage import data

from pipeline.authoring.preview import contact_sheet

HERE = Path(__file__).resolve().parent
PRESETS = ("wink", "blink", "smile", "surprise")


def main() -> None:
    """What `wink preview --target any` writes for each preset, in one process (the models load once)."""
    photo = io.BytesIO()
    Image.fromarray(data.astronaut()).save(photo, "PNG")
    for preset in PRESETS:
        out = HERE / f"preview-{preset}.png"
        out.write_bytes(contact_sheet(photo.getvalue(), preset, "any"))
        print(out)


if __name__ == "__main__":
    main()
