"""Stage 5, motion: a preset applied to one face gives that face's landmark positions for every frame.

Offsets are retargeted to the face before they are turned into image pixels: an eyelid closes by this
face's own lid gap (never past the lower lid), and the skin around the eye moves in proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline import topology as t
from pipeline.easing import smoothstep
from pipeline.pose import Pose, estimate_pose
from pipeline.presets import Preset
from pipeline.types import Landmarks


@dataclass(frozen=True)
class FaceMotion:
    """Image positions (x, y) of the 478 landmarks: the still's, and each frame's."""

    still: np.ndarray  # (478, 2)
    frames: np.ndarray  # (F, 478, 2)
    sources: np.ndarray  # (F, 478, 2): where each landmark's pixels are read from in the still
    eye_closure: np.ndarray  # (F, 2): right, left eye; 0 open as in the still, 1 shut
    pose: Pose

    def between(self, first: int, second: int, fraction: float) -> FaceMotion:
        """A one-frame motion `fraction` of the way from frame `first` to frame `second` (an in-between)."""

        def blend(values: np.ndarray) -> np.ndarray:
            return (values[first] * (1 - fraction) + values[second] * fraction)[None]

        return FaceMotion(self.still, blend(self.frames), blend(self.sources), blend(self.eye_closure), self.pose)


def _eye_region(
    reference: np.ndarray, corners: tuple[int, int], brow: tuple[int, ...], lower: tuple[int, ...]
) -> np.ndarray:
    """Landmarks between the brow and just under the lower lid, across the eye: they follow the lid."""
    xs = reference[list(corners), 0]
    margin = 0.3 * (xs.max() - xs.min())
    top = reference[list(brow), 1].min()
    bottom = reference[list(lower), 1].max() + 0.05
    x, y = reference[:, 0], reference[:, 1]
    return (x > xs.min() - margin) & (x < xs.max() + margin) & (y > top) & (y < bottom)


#: How far a closing eye's lower lid rises on its way, as a share of the eye's open gap at each lid point,
#: at most: the lids close towards each other, so a partly closed eye shows the lid's margin over the
#: iris, not the upper lid alone come down over the iris onto a band of white.
LOWER_LID_RISE = 0.4
#: Closure (the lid's furthest point, 0 open, 1 shut) from which the lower lid starts to rise, at which
#: it is fully up, and from which it is back at rest: an eye narrowed in a smile, or the other eye of a
#: wink, keeps its lower lid (it closes to at most 0.22), and a shut or nearly shut eye's lids meet where
#: the lower lid rests, where the shut lid is drawn to meet it (lids.py).
RISE_FROM, RISE_FULL, RISE_UNTIL = 0.2, 0.5, 0.85


def rise_share(closure: np.ndarray) -> np.ndarray:
    """How much of LOWER_LID_RISE a lower lid has risen at each closure: 0 open and shut, 1 half-way."""
    rising = smoothstep((closure - RISE_FROM) / (RISE_FULL - RISE_FROM))
    resting = smoothstep((RISE_UNTIL - closure) / (RISE_UNTIL - RISE_FULL))
    return np.minimum(rising, resting)


#: How far under the lower lid the cheek skin rises with it (IOD units of the canonical face), fading
#: linearly from the lower lid's full rise to none.
CHEEK_RISE_REACH = 0.12


def lower_lid_rise(face: np.ndarray, lower: tuple[int, ...], corners: tuple[int, int], lift: np.ndarray) -> np.ndarray:
    """How far up (F, 478) each landmark moves when a shutting eye's lower lid rises by `lift` (F, 7):
    the lower lid by `lift`, the skin under it by less the further down it is (CHEEK_RISE_REACH), over the
    eye's width (the column's nearest lower lid point sets the rise)."""
    low = face[list(lower)]
    xs = face[list(corners), 0]
    x, y = face[:, 0], face[:, 1]
    nearest = np.argmin(np.abs(x[:, None] - low[None, :, 0]), axis=1)  # (478,)
    below = y - low[nearest, 1]
    within = (x > xs.min()) & (x < xs.max())
    share = np.where(within & (below > 0), np.clip(1 - below / CHEEK_RISE_REACH, 0, 1), 0.0)
    rise = lift[:, nearest] * share[None, :]
    rise[:, list(lower)] = lift
    return rise


def retarget(offsets: np.ndarray, face: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (F, 478, 3) made to fit `face` (canonical landmarks), and per-frame eye closure (F, 2)."""
    out = offsets.astype(np.float64).copy()
    closure = np.zeros((len(out), 2))
    for e, (_, upper, lower, corners, brow, _) in enumerate(t.EYES):
        up, low = list(upper), list(lower)
        ref_gap = np.maximum(reference[low, 1] - reference[up, 1], 1e-4)
        face_gap = np.maximum(face[low, 1] - face[up, 1], 0.0)
        ratio = float(np.clip(face_gap.sum() / ref_gap.sum(), 0.3, 2.5))
        region = _eye_region(reference, corners, brow, lower)
        shut = np.clip((offsets[:, up, 1] - offsets[:, low, 1]) / ref_gap, 0.0, 1.0)  # (F, 7)
        out[:, region, 1] *= ratio
        # The lower lid rises to meet the upper lid on its way (most half-way), back at its rest once shut.
        share = rise_share(shut.max(axis=1))[:, None]  # (F, 1): the lid's furthest point says how far it is
        out[:, :, 1] -= lower_lid_rise(face, lower, corners, LOWER_LID_RISE * share * face_gap)
        out[:, up, 1] = out[:, low, 1] + shut * face_gap
        # How shut the eye is, counted only as far as the upper lid itself comes down over the eye
        # (a lower lid rising in a smile is not a closing eye).
        descended = np.clip(out[:, up, 1].sum(axis=1) / max(face_gap.sum(), 1e-6) / 0.5, 0.0, 1.0)
        closure[:, e] = shut.mean(axis=1) * descended
    return out, closure


#: How far above the detected lid margin a closing lid reads its skin from (IOD units): Face Mesh's
#: lid contour often sits a little inside the real margin, and reading from it would smear the iris.
LID_MARGIN = 0.03


def _lid_sources(still: np.ndarray, shut: np.ndarray, pose: Pose) -> np.ndarray:
    """Per frame, still positions with a closing eye's lid points moved off the eye by up to LID_MARGIN.

    Both lids then read skin from just outside the real lid margins, never a sliver of the eyeball.
    """
    up = -pose.rotation[:2, 1] * pose.scale * LID_MARGIN
    sources = np.repeat(still[None], len(shut), axis=0)
    for e, (_, upper, lower, *_rest) in enumerate(t.EYES):
        amount = smoothstep(shut[:, e] * 3)
        sources[:, list(upper)] += amount[:, None, None] * up
        sources[:, list(lower)] -= amount[:, None, None] * up
    return sources


def plan_motion(landmarks: Landmarks, preset: Preset) -> FaceMotion:
    """Every frame's landmark positions in the image for one face."""
    points = landmarks.points.astype(np.float64)
    pose = estimate_pose(points)
    face = pose.to_canonical(points)
    offsets, closure = retarget(preset.offsets, face, preset.reference.astype(np.float64))
    image_offsets = pose.offsets_to_image(offsets)[..., :2]
    still = points[:, :2]
    return FaceMotion(
        still=still,
        frames=still[None] + image_offsets,
        sources=_lid_sources(still, closure, pose),
        eye_closure=closure,
        pose=pose,
    )
