"""Presets from videos: the facial motion of a person in one or more videos, as a preset file.

Per video: Face Mesh on every frame (the largest face, then the one nearest the previous frame's), each
frame's landmarks in the canonical face frame (pipeline.pose: head turns and moves drop out, the
expression stays), frames where the face is lost or jumps are rejected and bridged, the track is smoothed
over time and resampled to the preset's frame rate, relative to its first frame. Several videos are
weighted and summed; the sum eases back to zero at the end so the loop closes.

A preset is *jittery* when the 95th percentile over landmarks of the RMS of its offsets' second
difference over time exceeds JITTER_MAX (IOD units, at the preset's frame rate): motion that reverses
from frame to frame rather than flowing. Extraction refuses to write a jittery preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from pipeline import topology as t
from pipeline.easing import smoothstep
from pipeline.errors import WinkError
from pipeline.presets import Preset, validate

DEFAULT_FPS = 20.0
#: Jitter bar: RMS second difference (IOD per frame^2, 95th percentile over landmarks). It lies between
#: what a smooth expression filmed close up measures and what a small, moving speaker's landmarks do.
JITTER_MAX = 0.016
#: A frame whose canonical shape differs from the last good one by more than this (median over
#: landmarks, IOD units) is a jump (Face Mesh lost track or locked onto something else).
JUMP_IOD = 0.06
#: (Both compared with the frame before, so a face that turns slowly is never one long "jump".)
#: Or whose face moved, in the image, by more than this many IODs since the last good frame.
JUMP_MOVE_IOD = 0.8
#: Below this share of good frames the video cannot give a motion.
MIN_GOOD_SHARE = 0.6
#: Smoothing over time: Gaussian sigma in seconds.
SMOOTH_S = 0.05
#: The eyelids' smoothing: less, since a lid closes in a frame or two and smoothing would draw that out
#: over 150 ms or more (their pace is set afterwards, limit_speed).
LID_SMOOTH_S = 0.02
#: Time to ease back to the still at the end, and the hold of the still at the start.
EASE_OUT_S = 0.4
HOLD_STILL_MS = 300
#: Fastest landmark motion between two frames (IOD units); faster stretches are slowed (limit_speed).
#: The eyelids are paced on their own (LID_CLOSE_STEP, LID_OPEN_STEP): the painted lid hides their speed.
MAX_STEP_IOD = 0.025
#: Largest share of the eye a lid may close, and open, from one frame to the next: a real lid closes in
#: about 100 ms (two frames at 20 fps) and opens more slowly (four frames or more).
LID_CLOSE_STEP = 0.5
LID_OPEN_STEP = 0.25
#: How shut Face Mesh reads a really shut eye (share of the open gap the upper lid has come down): its
#: lid contour keeps a residual gap (wink.mp4's shut eye reads 0.84). Lids are scaled by its inverse, so
#: an eye shut in the video is shut in the preset, not left a slit of eyeball under the painted lid.
SHUT_READS_AS = 0.8
#: A face smaller than this (IOD in pixels) gives Face Mesh points too noisy for motion.
MIN_IOD_PX = 20.0
#: Faces turned further than this hide half their landmarks: those frames are bridged.
MAX_YAW_DEGREES = 40.0


#: Landmarks that an expression barely moves (nose ridge, forehead, temples, upper face outline).
STABLE = (168, 6, 197, 195, 5, 4, 1, 10, 151, 9, 8, 109, 338, 67, 297, 127, 356, 234, 454, 162, 389, 21, 251)


class ExtractError(WinkError):
    """A video that cannot give a motion: unreadable, no face, face lost too often, or too jittery."""


@dataclass(frozen=True)
class Track:
    """One video's face, frame by frame, in the canonical frame."""

    name: str
    fps: float
    canonical: np.ndarray  # (N, 478, 3), bridged and smoothed
    good: np.ndarray  # (N,) bool: frames Face Mesh gave and that did not jump
    iod_px: float  # median face size in the video


def jitter(offsets: np.ndarray) -> float:
    """The jitter figure of a motion (F, 478, 3): see the module docstring."""
    if len(offsets) < 3:
        return 0.0
    second = np.diff(offsets[..., :2], n=2, axis=0)
    rms = np.sqrt((second**2).sum(axis=2).mean(axis=0))
    return float(np.percentile(rms, 95))


def _frames(path: Path, start: float | None, end: float | None):
    """(fps, frame count, iterator of (time_s, rgb)) of a video, or ExtractError when it cannot be read."""
    if not path.is_file():
        raise ExtractError(f"{path} does not exist or is not a file.")
    capture = cv2.VideoCapture(str(path))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok:
        capture.release()
        raise ExtractError(f"{path} is not a video OpenCV can read.")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    if not 1 <= fps <= 240:
        fps = 30.0
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    lo, hi = (start or 0.0), (end if end is not None else float("inf"))
    last = count if end is None else min(count, int(np.ceil(hi * fps)))
    total = max(0, last - int(lo * fps)) if count else None

    def iterate():
        index, frame = 0, first
        try:
            while frame is not None:
                time_s = index / fps
                if time_s > hi:
                    break
                if time_s >= lo:
                    yield time_s, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, frame = capture.read()
                frame = frame if ok else None
                index += 1
        finally:
            capture.release()

    return fps, total, iterate()


def _box_of(points: np.ndarray, width: int, height: int):
    from pipeline.types import Box

    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    return Box(max(0, int(x0)), max(0, int(y0)), min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))


def _find(rgb: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
    """Face Mesh points of the face to follow: near the previous frame's, or the largest one."""
    from pipeline import faces, landmarks

    height, width = rgb.shape[:2]
    if previous is not None:
        marks = landmarks.face_mesh(rgb, _box_of(previous, width, height))
        if marks is not None:
            return marks.points
    found = faces.detect(rgb, 1.0, width, height)
    if not found:
        return None
    if previous is not None:
        centre = previous[:, :2].mean(axis=0)
        found.sort(
            key=lambda item: np.hypot(
                (item[0].x0 + item[0].x1) / 2 - centre[0], (item[0].y0 + item[0].y1) / 2 - centre[1]
            )
        )
    marks = landmarks.face_mesh(rgb, found[0][0])
    return None if marks is None else marks.points


def _align(shape: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`shape` moved by the similarity (rotation, scale, shift) that best fits its STABLE points onto target's.

    The canonical frame hangs on the eye corners, which move in a wink or a squint; fitting on the skull's
    points instead keeps an expression from shifting the whole face.
    """
    a, b = shape[list(STABLE)], target[list(STABLE)]
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, sigma, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rotation = u @ fix @ vt
    scale = (sigma * np.diag(fix)).sum() / ((a - ca) ** 2).sum()
    return (shape - ca) @ rotation * scale + cb


def _interp_frames(new_times: np.ndarray, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Frames `values` (N, ...) taken at `times`, linearly interpolated at `new_times` (held at the ends)."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(new_times, times, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(len(new_times), *values.shape[1:])


def _bridge(values: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Values at bad frames linearly interpolated from the good ones around them (held at the ends)."""
    index = np.arange(len(values))
    return _interp_frames(index, index[good], values[good])


def track_video(path: Path, start: float | None = None, end: float | None = None, progress: bool = True) -> Track:
    """The canonical face track of one video (see the module docstring)."""
    from tqdm import tqdm

    from pipeline.pose import estimate_pose

    fps, total, frames = _frames(path, start, end)
    shapes: list[np.ndarray | None] = []
    good: list[bool] = []
    sizes: list[float] = []
    previous = None
    last: tuple[np.ndarray, np.ndarray, int] | None = None  # canonical, origin, index of the last face seen
    for _, rgb in tqdm(frames, total=total, desc=path.name, unit="frame", disable=not progress, leave=False):
        points = _find(rgb, previous)
        if points is None:
            shapes.append(None)
            good.append(False)
            continue
        pose = estimate_pose(points)
        canonical = pose.to_canonical(points.astype(np.float64))
        ok = pose.scale >= MIN_IOD_PX and abs(pose.yaw_degrees) <= MAX_YAW_DEGREES
        if ok and last is not None:
            shape_change = np.median(np.linalg.norm(canonical - last[0], axis=1))
            moved = np.linalg.norm(pose.origin[:2] - last[1][:2]) / pose.scale
            ok = bool(shape_change <= JUMP_IOD and moved <= JUMP_MOVE_IOD * (len(good) - last[2]))
        shapes.append(canonical)
        good.append(bool(ok))
        sizes.append(pose.scale)
        last = (canonical, pose.origin, len(good) - 1)
        previous = points
    if not good:
        raise ExtractError(f"{path} has no frames between the given start and end.")
    good_arr = np.array(good)
    if not good_arr.any():
        raise ExtractError(f"no face found in {path}.")
    if good_arr.mean() < MIN_GOOD_SHARE:
        raise ExtractError(
            f"the face in {path} is lost or jumps in {1 - good_arr.mean():.0%} of the frames "
            f"(at most {1 - MIN_GOOD_SHARE:.0%} can be bridged)."
        )
    first = int(np.argmax(good_arr))  # the motion starts at the first good frame
    filler = shapes[first]
    stack = np.array([s if s is not None else filler for s in shapes[first:]])
    stack = np.array([_align(shape, stack[0]) for shape in stack])
    canonical = _bridge(stack, good_arr[first:])
    lids = canonical[:, _LIDS]
    canonical = gaussian_filter1d(canonical, sigma=max(SMOOTH_S * fps, 0.5), axis=0, mode="nearest")
    canonical[:, _LIDS] = gaussian_filter1d(lids, sigma=max(LID_SMOOTH_S * fps, 0.5), axis=0, mode="nearest")
    return Track(path.name, fps, canonical, good_arr[first:], float(np.median(sizes)))


def _resample(track: Track, fps: float) -> np.ndarray:
    """The track's offsets from its first frame, at `fps` frames per second."""
    offsets = track.canonical - track.canonical[0]
    times = np.arange(len(offsets)) / track.fps
    return _interp_frames(np.arange(0.0, times[-1] + 1e-9, 1.0 / fps), times, offsets)


def combine(motions: list[tuple[np.ndarray, float]], fps: float) -> np.ndarray:
    """Weighted sum of motions (each held at its last value past its end), eased back to zero at the end."""
    length = max(len(m) for m, _ in motions)
    total = np.zeros((length, *motions[0][0].shape[1:]))
    for motion, weight in motions:
        padded = np.concatenate([motion, np.repeat(motion[-1:], length - len(motion), axis=0)])
        total += weight * padded
    ease = max(2, round(EASE_OUT_S * fps))
    fade = 1 - smoothstep(np.arange(1, ease + 1) / ease)
    tail = total[-1][None] * fade[:, None, None]
    out = np.concatenate([total, tail])
    out[0] = 0.0
    out[-1] = 0.0
    return out


_LIDS = [index for _, upper, lower, *_ in t.EYES for index in (*upper, *lower)]


def lid_closure(offsets: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(F, 2) how far each eye's upper lid has come down towards its lower lid, as a share of the gap."""
    out = np.zeros((len(offsets), len(t.EYES)))
    for e, (_, upper, lower, *_) in enumerate(t.EYES):
        gap = np.maximum(reference[list(lower), 1] - reference[list(upper), 1], 1e-4)
        out[:, e] = ((offsets[:, list(upper), 1] - offsets[:, list(lower), 1]) / gap).mean(axis=1)
    return out


def shut_lids(offsets: np.ndarray, reference: np.ndarray, reads_as: float = SHUT_READS_AS) -> np.ndarray:
    """The motion with each upper lid's descent scaled by 1 / `reads_as`, up to the lower lid.

    Face Mesh reads a shut eye as a slit (SHUT_READS_AS); scaled, the lids meet where the video's met.
    """
    out = offsets.copy()
    for _, upper, lower, *_ in t.EYES:
        up, low = list(upper), list(lower)
        gap = np.maximum(reference[low, 1] - reference[up, 1], 1e-4)
        shut = (offsets[:, up, 1] - offsets[:, low, 1]) / gap
        scaled = np.where(shut > 1, shut, np.where(shut > 0, np.minimum(shut / reads_as, 1.0), shut))
        out[:, up, 1] = offsets[:, low, 1] + scaled * gap
    return out


def limit_speed(
    offsets: np.ndarray,
    max_step: float = MAX_STEP_IOD,
    reference: np.ndarray | None = None,
    close_step: float = LID_CLOSE_STEP,
    open_step: float = LID_OPEN_STEP,
) -> np.ndarray:
    """Retime the motion so no landmark moves more than `max_step` IOD between frames.

    Real winks and blinks take two or three video frames; shown at that pace a warped photo flickers,
    so fast stretches get in-between frames (linear) and the slow ones keep their timing. Given the
    `reference` face, the eyelids are paced by closure instead: a lid closes by at most `close_step` of
    the eye and opens by at most `open_step` per frame, so it closes fast and opens slowly, as real lids do.
    """
    planar = offsets[..., :2]
    if reference is not None:
        planar = np.delete(planar, _LIDS, axis=1)
    moves = np.linalg.norm(np.diff(planar, axis=0), axis=2).max(axis=1)
    lid_parts = np.ones(len(moves))
    if reference is not None:
        change = np.diff(lid_closure(offsets, reference), axis=0)
        closing = np.clip(change, 0, None).max(axis=1) / close_step
        opening = np.clip(-change, 0, None).max(axis=1) / open_step
        lid_parts = np.ceil(np.maximum(closing, opening) - 1e-9)
    out = [offsets[0]]
    for i, move in enumerate(moves):
        parts = max(1, int(np.ceil(move / max_step)), int(lid_parts[i]))
        for k in range(1, parts + 1):
            out.append(offsets[i] + (offsets[i + 1] - offsets[i]) * (k / parts))
    return np.asarray(out)


def extract(
    videos: list[tuple[Path, float]],
    name: str,
    description: str = "",
    start: float | None = None,
    end: float | None = None,
    fps: float = DEFAULT_FPS,
    progress: bool = True,
) -> Preset:
    """A preset from weighted videos; ExtractError (one sentence) when a video cannot give a motion."""
    if not videos:
        raise ExtractError("give at least one video.")
    if not 5 <= fps <= 60:
        raise ExtractError(f"--fps must be between 5 and 60, not {fps:g}.")
    if start is not None and end is not None and end <= start:
        raise ExtractError("--end must come after --start.")
    tracks = [track_video(Path(path), start, end, progress) for path, _ in videos]
    offsets = combine([(_resample(tr, fps), w) for tr, (_, w) in zip(tracks, videos, strict=True)], fps)
    reference = tracks[0].canonical[0]
    offsets = limit_speed(shut_lids(offsets, reference), reference=reference)
    figure = jitter(offsets)
    if figure > JITTER_MAX:
        small = min(tracks, key=lambda tr: tr.iod_px)
        raise ExtractError(
            f"the motion is too jittery to use (jitter {figure:.3f} > {JITTER_MAX}; the face in "
            f"{small.name} is {small.iod_px:.0f} px between the eyes and moves): try a video "
            "with a larger, steadier face."
        )
    frame_ms = round(1000 / fps)
    durations = np.full(len(offsets), frame_ms, dtype=np.int32)
    durations[0] = HOLD_STILL_MS
    source = "extracted: " + ", ".join(f"{Path(p).name}×{w:g}" for p, w in videos)
    preset = Preset(
        name,
        description or f"Motion taken from {', '.join(Path(p).name for p, _ in videos)}.",
        offsets.astype(np.float32),
        durations,
        reference.astype(np.float32),
        source=source,
    )
    return validate(preset)
