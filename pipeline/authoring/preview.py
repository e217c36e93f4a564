"""Contact sheets: the key frames of a preset applied to a photo, side by side in one PNG.

So a person can see what a preset does before choosing it. The sheet is cropped to the moving face,
each tile is labelled with its time, and the PNG says (visibly and in its metadata) that it is synthetic.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

from pipeline.errors import WinkError
from pipeline.marking import DIGITAL_SOURCE_TYPE
from pipeline.presets import Preset, load_preset

TILE_HEIGHT = 256
MAX_TILES = 8
CAPTION_PX = 18


def key_frames(preset: Preset, limit: int = MAX_TILES) -> list[int]:
    """Frame 0 (the still), every peak of the motion and the frame halfway up to it, in time order."""
    size = np.abs(preset.offsets[..., :2]).sum(axis=(1, 2))
    if size.max() <= 0:
        return [0]
    chosen = {0}
    rising_from = 0
    for i in range(1, len(size)):
        after = size[i + 1] if i + 1 < len(size) else -1.0
        if size[i] >= size[i - 1] and size[i] > after and size[i] >= 0.2 * size.max():
            chosen.add(i)
            half = rising_from + int(np.argmin(np.abs(size[rising_from : i + 1] - size[i] / 2)))
            chosen.add(half)
        if size[i] < size[i - 1] and after >= size[i]:
            rising_from = i
    ordered = sorted(chosen)
    if len(ordered) > limit:  # keep the still and the biggest moments
        rest = sorted(ordered[1:], key=lambda i: -size[i])[: limit - 1]
        ordered = [0, *sorted(rest)]
    return ordered


def _frames_at(data: bytes, times_ms: list[float]) -> list[np.ndarray]:
    """The composited frames of an animation shown at the given times."""
    with Image.open(io.BytesIO(data)) as image:
        starts, frames, clock = [], [], 0.0
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGB")).copy())
            starts.append(clock)
            clock += image.info.get("duration", 0) or 0
    picks = [max(0, int(np.searchsorted(starts, t, side="right")) - 1) for t in times_ms]
    return [frames[i] for i in picks]


def _crop_box(frames: list[np.ndarray]) -> tuple[int, int, int, int]:
    """A box around every pixel that moves, padded, so the sheet shows the face rather than the photo."""
    height, width = frames[0].shape[:2]
    moving = np.zeros((height, width), bool)
    for frame in frames[1:]:
        moving |= np.abs(frame.astype(np.int16) - frames[0]).max(axis=2) > 8
    if not moving.any():
        return 0, 0, width, height
    ys, xs = np.nonzero(moving)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0) * 1.3
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (
        max(0, int(cx - side / 2)),
        max(0, int(cy - side / 2)),
        min(width, int(cx + side / 2)),
        min(height, int(cy + side / 2)),
    )


def contact_sheet(photo: bytes, preset: str | Preset = "wink", target: str = "any") -> bytes:
    """PNG bytes of the preset's key frames on the photo; WinkError when no face of `target` is in it."""
    from pipeline.api import Animator

    chosen = load_preset(preset) if isinstance(preset, str) else preset
    animation = Animator(target, chosen).animate(photo, "webp")
    if animation.data is None:
        raise WinkError(f"no face of the target {target!r} found in the photo.")
    keys = key_frames(chosen)
    starts = np.concatenate([[0], np.cumsum(chosen.durations_ms)[:-1]])
    # Sample each key frame in the middle of its time (the encoder may merge or split frames).
    times = [float(starts[k] + chosen.durations_ms[k] / 2) for k in keys]
    frames = _frames_at(animation.data, times)
    x0, y0, x1, y1 = _crop_box(frames)
    tile_w = max(1, round((x1 - x0) * TILE_HEIGHT / max(1, y1 - y0)))
    sheet = Image.new("RGB", (tile_w * len(frames), TILE_HEIGHT + CAPTION_PX * 2), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (frame, key, time_ms) in enumerate(zip(frames, keys, starts[keys], strict=True)):
        tile = Image.fromarray(frame[y0:y1, x0:x1]).resize((tile_w, TILE_HEIGHT), Image.Resampling.LANCZOS)
        sheet.paste(tile, (n * tile_w, 0))
        draw.text((n * tile_w + 4, TILE_HEIGHT + 3), f"#{key}  {int(time_ms)} ms", fill="black")
    draw.text((4, TILE_HEIGHT + CAPTION_PX + 2), f"synthetic: preset {chosen.name!r} by wink", fill="gray")
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", f"Synthetic: key frames of the wink preset {chosen.name!r} applied to a photo.")
    info.add_text("DigitalSourceType", DIGITAL_SOURCE_TYPE)
    out = io.BytesIO()
    sheet.save(out, "PNG", pnginfo=info, optimize=True)
    return out.getvalue()
