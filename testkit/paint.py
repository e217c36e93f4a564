"""What a browser should paint for an animation, and how close a screenshot comes to it.

The reference is the pipeline's own output as Pillow decodes it: every frame composited on the canvas,
laid over the page's white background where the image is transparent, and turned into sRGB through
the image's ICC profile, as a colour-managed browser on an sRGB screen shows it.

A screenshot matches a frame when the mean absolute difference over the whole image is at most
`MAX_MEAN_ERROR` levels. Over a whole photo that alone cannot tell one frame of a wink from the
next (the eye is a small part of it), so each screenshot is also compared over the `moving` region,
where any two frames differ, and the number of different frames the moments showed is counted there.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

#: The issue's bar: a screenshot is a frame when it is within 3 levels of it, on average.
MAX_MEAN_ERROR = 3.0
#: A pixel has visibly changed between two frames when a channel moves by more than this.
VISIBLE_LEVELS = 16
PAGE_BACKGROUND = (255, 255, 255)
#: Debian's Chromium as root on a machine without a network or a GPU, on an sRGB screen (as the
#: reference frames are): no sandbox, no background traffic, no QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--force-color-profile=srgb",
]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{name}</title>
<style>html, body {{ margin: 0; padding: 0; background: #fff; }} img {{ display: block; }}</style>
</head><body><img id="animation" src="{src}" alt=""></body></html>
"""


@dataclass(frozen=True)
class Reference:
    """The frames a browser may show, as float32 RGB arrays, with how long each shows."""

    frames: list[np.ndarray]
    durations_ms: list[int]
    #: (y0, y1, x0, x1): the smallest box holding every pixel that differs between any two frames.
    moving: tuple[int, int, int, int]

    @property
    def width(self) -> int:
        return self.frames[0].shape[1]

    @property
    def height(self) -> int:
        return self.frames[0].shape[0]

    @property
    def loop_ms(self) -> int:
        return sum(self.durations_ms)


@dataclass(frozen=True)
class Match:
    """The frame a screenshot is closest to, and how close (mean levels, whole image and moving region)."""

    frame: int
    error: float
    moving_error: float


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB(A) in sRGB: convert through the embedded ICC profile when there is one."""
    icc = image.info.get("icc_profile")
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info else "RGB"
    image = image.convert(mode)
    if not icc:
        return image
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    srgb = ImageCms.createProfile("sRGB")
    return ImageCms.profileToProfile(image, source, srgb, outputMode=mode)


def reference(data: bytes) -> Reference:
    """Decode every frame of an animation (WebP, APNG or GIF) the way a page shows it."""
    frames, durations = [], []
    with Image.open(io.BytesIO(data)) as image:
        icc = image.info.get("icc_profile")
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
            durations.append(int(image.info.get("duration", 0)))
            frame = image.copy()
            if icc:
                frame.info["icc_profile"] = icc
            frame = _to_srgb(frame)
            pixels = np.asarray(frame, np.float32)
            if pixels.shape[-1] == 4:
                alpha = pixels[..., 3:] / 255.0
                pixels = pixels[..., :3] * alpha + np.float32(PAGE_BACKGROUND) * (1.0 - alpha)
            frames.append(pixels)
    differs = np.zeros(frames[0].shape[:2], bool)
    for frame in frames[1:]:
        differs |= np.abs(frame - frames[0]).max(axis=-1) > 0.5
    rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if len(rows):
        moving = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    else:
        moving = (0, frames[0].shape[0], 0, frames[0].shape[1])
    return Reference(frames, durations, moving)


def _region(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    return array[y0:y1, x0:x1]


def match(screenshot: np.ndarray, ref: Reference) -> Match:
    """The frame closest to a screenshot (RGB array of the image's own size), judged over the moving region."""
    if screenshot.shape[:2] != ref.frames[0].shape[:2]:
        raise AssertionError(
            f"screenshot is {screenshot.shape[1]}x{screenshot.shape[0]}, image {ref.width}x{ref.height}"
        )
    shot = screenshot[..., :3].astype(np.float32)
    moving_errors = [float(np.abs(_region(shot, ref.moving) - _region(f, ref.moving)).mean()) for f in ref.frames]
    best = int(np.argmin(moving_errors))
    error = float(np.abs(shot - ref.frames[best]).mean())
    return Match(best, error, moving_errors[best])


def _visibly_different(a: np.ndarray, b: np.ndarray) -> bool:
    """Two frames differ where a viewer sees it: some pixels (0.1% of the region, at least 50) move by
    more than `VISIBLE_LEVELS`. Coding noise moves few pixels that far; a lid or a lip moves hundreds."""
    moved = int((np.abs(a - b).max(axis=-1) > VISIBLE_LEVELS).sum())
    return moved >= max(50, a.shape[0] * a.shape[1] // 1000)


def distinct_frames(matches: list[Match], ref: Reference) -> int:
    """How many visibly different frames the screenshots showed (frames alike in the moving region count once)."""
    looks: list[np.ndarray] = []
    for frame in sorted({m.frame for m in matches}):
        candidate = _region(ref.frames[frame], ref.moving)
        if all(_visibly_different(candidate, seen) for seen in looks):
            looks.append(candidate)
    return len(looks)


#: Screenshots are taken at least this far apart: each one takes a while in the browser.
SHOT_GAP_MS = 250


def moments_ms(ref: Reference, count: int = 8) -> list[int]:
    """When to take screenshots, in ms after the image has loaded: aimed at the middle of `count`
    frames spread over the loop (the still, then moving frames evenly by index). Each loop takes the
    aimed frames that fall at least `SHOT_GAP_MS` after the shot before; the rest wait for the next
    loop. So a short motion in a long loop (a blink) is still seen at several of its frames."""
    starts = np.cumsum([0, *ref.durations_ms[:-1]])
    middles = [int(start + duration / 2) for start, duration in zip(starts, ref.durations_ms, strict=True)]
    chosen = sorted({0, *np.linspace(1, len(middles) - 1, count - 1).round().astype(int).tolist()})
    pending = sorted(middles[index] for index in chosen)
    moments: list[int] = []
    loop = 0
    while pending:
        for phase in list(pending):
            moment = phase + loop * ref.loop_ms
            if not moments or moment >= moments[-1] + SHOT_GAP_MS:
                moments.append(moment)
                pending.remove(phase)
        loop += 1
    return moments


#: A browser that starts the loop late, or screenshots slowly, gets up to this many more loops of
#: shots to show 3 different frames. A blink closes and reopens in frames of 50 ms in a 2.1 s loop: at
#: ~0.4 s a shot, four loops missed all of them in 3 of 3 runs on a slow day.
EXTRA_LOOPS = 16
FRAMES_TO_SEE = 3
#: How much longer than the slowest screenshot so far the extra shots are spaced (s): room for a shot
#: that takes a little longer, so each one still starts on time.
SHOT_MARGIN_S = 0.1


def sweep(loop: float, shortest: float, budget: float) -> tuple[float, int]:
    """(interval, count): `count` shots, `interval` s apart (at least `shortest`), within about `budget`
    s (plus at most a loop), whose moments in a `loop` s long loop fall on `count` evenly spaced points,
    each once.

    Shots taken back to back instead land where the loop's length happens to divide by their pace:
    in CI, at ~0.7 s a shot in a blink's 2.1 s loop, 30 shots saw only the two stills and the shut
    frame. Here the interval is `turns` loops over `count`, with `turns` and `count` coprime, so shot k
    lands k * turns / count of a loop on: a permutation of the count points, spaced loop / count apart.
    """
    count = max(1, int(budget // shortest))
    while True:  # ends by count 1 at the latest; the whole sweep takes turns loops, under budget + loop
        turns = max(1, math.ceil(shortest * count / loop))
        if math.gcd(turns, count) == 1:
            return turns * loop / count, count
        count -= 1


def watch(take: Callable[[], np.ndarray], ref: Reference, loaded: float) -> list[np.ndarray]:
    """Screenshots at `moments_ms` after `loaded` (time.monotonic()), then, until FRAMES_TO_SEE different
    frames were seen, more for about EXTRA_LOOPS loops, spaced by `sweep` so that they meet the loop at
    evenly spaced moments whatever its offset from `loaded` (spaced anew, for the time left, when a shot
    takes longer than its slot). Every one of them is still held to the match bar, and a browser that
    shows only the still never gets there."""
    shots: list[np.ndarray] = []
    slowest = 0.0
    for moment in moments_ms(ref):
        wait = loaded + moment / 1000 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        started = time.monotonic()
        shots.append(take())
        slowest = max(slowest, time.monotonic() - started)
    matches = [match(s, ref) for s in shots]  # each shot matched once, as it comes: a match reads every frame
    loop = ref.loop_ms / 1000
    ends = time.monotonic() + EXTRA_LOOPS * loop
    interval, count = sweep(loop, slowest + SHOT_MARGIN_S, EXTRA_LOOPS * loop)
    begun, index = time.monotonic(), 0
    while index < count and distinct_frames(matches, ref) < FRAMES_TO_SEE:
        time.sleep(max(0.0, begun + index * interval - time.monotonic()))
        started = time.monotonic()
        shots.append(take())
        took = time.monotonic() - started
        matches.append(match(shots[-1], ref))
        index += 1
        if took + SHOT_MARGIN_S / 2 > interval and ends > time.monotonic():  # the browser slowed down: new spacing
            slowest = max(slowest, took)
            interval, count = sweep(loop, slowest + SHOT_MARGIN_S, ends - time.monotonic())
            begun, index = time.monotonic(), 0
    return shots


def page(name: str, src: str) -> bytes:
    """A page showing one image at its natural size, at the top left corner, on white."""
    return PAGE.format(name=name, src=src).encode()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
