"""Stage 6, warp: a piecewise-affine warp of the face over the Face Mesh triangles (OpenCV remap).

The triangulation is made once per face, on the still's landmarks plus a ring of fixed anchors around
the face, so motion fades to zero before the face outline's surroundings and leaves no seam. Each frame
only rasterises the triangles that move, and builds remap tables only over their bounding box.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from pipeline import topology as t
from pipeline.types import Box, Patch

_SUBPIXEL_BITS = 4
#: Vertices that move less than this (pixels) are held still: invisible motion would only grow the patch.
_MOVING_PX = 0.25
#: A change of slope (source pixels per grid step) beyond which an upsampled remap table is not trusted.
_JUMP_PX = 0.75


def _anchor_ring(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Fixed points around the face: the outline pushed outwards, twice, so motion dies off smoothly."""
    oval = points[list(t.FACE_OVAL)]
    centre = points[:468].mean(axis=0)
    rings = [centre + (oval - centre) * factor for factor in (1.25, 1.6)]
    ring = np.vstack(rings)
    ring[:, 0] = np.clip(ring[:, 0], 0, width - 1)
    ring[:, 1] = np.clip(ring[:, 1], 0, height - 1)
    return ring


class FaceWarp:
    """Warps one face of a still image to any new landmark positions."""

    def __init__(self, still_points: np.ndarray, width: int, height: int):
        face = np.asarray(still_points[:468], dtype=np.float64)  # irises are not part of the skin mesh
        anchors = _anchor_ring(face, width, height)
        vertices = np.vstack([face, anchors])
        self.n_face = len(face)
        self.width, self.height = width, height
        self.vertices = vertices
        # Duplicate or near-duplicate points (a face turned far) would make Delaunay drop vertices.
        jitter = np.random.default_rng(0).uniform(-1e-3, 1e-3, vertices.shape)
        self.triangles = Delaunay(vertices + jitter).simplices.astype(np.int32)
        # Eyeballs do not squash when a lid closes: the lid slides over them. The triangles inside each
        # eye opening are replaced by the opening polygon moved rigidly, drawn first, lids drawn over it.
        self.eyes = [
            np.array([*corners[:1], *upper, *corners[1:], *lower[::-1]]) for _, upper, lower, corners, _, _ in t.EYES
        ]
        inside = np.zeros(len(self.triangles), bool)
        for eye in self.eyes:
            members = np.isin(self.triangles, eye).all(axis=1)
            centres = vertices[self.triangles[members]].mean(axis=1).astype(np.float32)
            polygon = vertices[eye].astype(np.float32)
            hits = np.array(
                [cv2.pointPolygonTest(polygon, (float(x), float(y)), False) > 0 for x, y in centres], dtype=bool
            )
            inside[np.flatnonzero(members)[hits]] = True
        self.eyeball_triangles = inside
        # Map resolution: full for small faces, every 2nd pixel once the face is big (IOD over 100 px).
        iod = float(np.linalg.norm(face[list(t.LEFT_EYE_CORNERS)].mean(0) - face[list(t.RIGHT_EYE_CORNERS)].mean(0)))
        self.map_step = 2 if iod > 100 else 1

    def vertex_positions(self, face_points: np.ndarray) -> np.ndarray:
        """New positions of all mesh vertices from new landmark positions; anchors and tiny moves stay."""
        out = self.vertices.copy()
        moved = face_points[:468]
        still = np.abs(moved - out[: self.n_face]).max(axis=1) < _MOVING_PX
        out[: self.n_face] = np.where(still[:, None], out[: self.n_face], moved)
        return out

    def source_positions(self, face_points: np.ndarray) -> np.ndarray | None:
        """Where vertices read from, when that differs from the still's landmarks (else None)."""
        if np.array_equal(face_points[:468], self.vertices[: self.n_face]):
            return None
        return self.vertex_positions(face_points)

    def _moving(self, dest: np.ndarray, source: np.ndarray) -> np.ndarray:
        """Which vertices go somewhere else, or read from somewhere else, than in the still."""
        return np.any(dest != self.vertices, axis=1) | np.any(source != self.vertices, axis=1)

    def moving_box(self, dest: np.ndarray, source: np.ndarray | None = None) -> Box | None:
        """Bounding box (even-aligned, clipped) of every triangle that moves, before and after."""
        source = self.vertices if source is None else source
        moving = self._moving(dest, source)
        if not moving.any():
            return None
        tris = self.triangles[moving[self.triangles].any(axis=1)]
        pts = np.vstack([dest[tris.ravel()], source[tris.ravel()]])
        x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 3
        x0, y0 = max(0, x0 - x0 % 2), max(0, y0 - y0 % 2)
        return Box(x0, y0, min(self.width, x1), min(self.height, y1))

    def source_maps(
        self, dest: np.ndarray, box: Box, source: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """For every pixel of `box` in the frame, where to read it in the still (absolute pixels).

        `source` overrides where vertices read from (a closing lid reads skin from a little higher up).
        """
        source = self.vertices if source is None else source
        moving = self._moving(dest, source)
        selected = moving[self.triangles].any(axis=1) & ~self.eyeball_triangles
        tris = self.triangles[selected]
        d = dest[tris]  # (M, 3, 2) where the triangle is now
        s = source[tris]  # (M, 3, 2) where it reads from in the still
        # Affine dest -> source of each triangle, from the two edge vectors (a closed form of a 3x3 solve).
        de1, de2 = d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]
        se1, se2 = s[:, 1] - s[:, 0], s[:, 2] - s[:, 0]
        det = de1[:, 0] * de2[:, 1] - de1[:, 1] * de2[:, 0]
        ok = np.abs(det) > 1e-3  # collapsed triangles (a shut eyelid) cover no pixel
        inv = np.zeros((len(tris), 2, 2))
        inv[ok, 0, 0], inv[ok, 0, 1] = de2[ok, 1] / det[ok], -de2[ok, 0] / det[ok]
        inv[ok, 1, 0], inv[ok, 1, 1] = -de1[ok, 1] / det[ok], de1[ok, 0] / det[ok]
        linear = np.stack([se1, se2], axis=2) @ inv  # (M, 2, 2): source edges times inverse dest edges
        affine = np.zeros((len(tris) + 1, 2, 3), np.float32)
        affine[1:, :, :2] = linear
        affine[1:, :, 2] = s[:, 0] - (linear @ d[:, 0, :, None])[..., 0]
        # Rasterise at full resolution (cheap), but evaluate on a grid of every `step`-th pixel: the map is
        # piecewise linear, so upsampling it is nearly exact and saves most of the per-pixel work on large
        # faces. Where it is not (a lid sliding over the eyeball, a fold at a mouth corner) the upsampled
        # map would blend two far-apart sources into a ring of stray pixels; those pixels are evaluated
        # exactly instead.
        ids = np.zeros((box.height, box.width), np.uint16)
        origin = np.array([box.x0, box.y0], np.float64)
        scaled = np.round((d - origin) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        eyeballs = []
        for eye in self.eyes:
            if not moving[eye].any():
                continue
            corners = eye[[0, len(eye) // 2]]  # the eyeball goes where the eye corners go
            shift = (dest[corners] - self.vertices[corners]).mean(axis=0)
            polygon = np.round((self.vertices[eye] + shift - origin) * (1 << _SUBPIXEL_BITS))
            eyeballs.append((polygon.astype(np.int32), shift))
        if eyeballs:
            extra = np.zeros((len(eyeballs), 2, 3), np.float32)
            for k, (polygon, shift) in enumerate(eyeballs):
                extra[k] = [[1, 0, -shift[0]], [0, 1, -shift[1]]]
                # OpenCV fills uint16 images; its type stubs only know other dtypes.
                cv2.fillPoly(ids, [polygon], len(affine) + k, cv2.LINE_8, _SUBPIXEL_BITS)  # type: ignore[call-overload]
            affine = np.concatenate([affine, extra])
        for index in np.flatnonzero(ok):
            cv2.fillConvexPoly(ids, scaled[index], int(index) + 1, cv2.LINE_8, _SUBPIXEL_BITS)  # type: ignore[call-overload]
        step = self.map_step
        xs = (box.x0 + np.arange(box.width)).astype(np.float32)
        ys = (box.y0 + np.arange(box.height)).astype(np.float32)
        if step == 1:
            return _evaluate(affine, ids, xs, ys)
        # Grid sample k stands for pixels step*k .. step*k+step-1, so it is taken at their centre.
        grid_ids = np.ascontiguousarray(ids[::step, ::step])
        grid_h, grid_w = grid_ids.shape
        centre = (step - 1) / 2
        grid_x, grid_y = _evaluate(affine, grid_ids, xs[::step] + centre, ys[::step] + centre)
        map_x = cv2.resize(grid_x, (grid_w * step, grid_h * step), interpolation=cv2.INTER_LINEAR)
        map_y = cv2.resize(grid_y, (grid_w * step, grid_h * step), interpolation=cv2.INTER_LINEAR)
        map_x, map_y = map_x[: box.height, : box.width], map_y[: box.height, : box.width]
        jumps = np.zeros((grid_h, grid_w), np.uint8)
        for grid in (grid_x, grid_y):
            jumps[:, 1:-1] |= np.abs(grid[:, 2:] - 2 * grid[:, 1:-1] + grid[:, :-2]) > _JUMP_PX
            jumps[1:-1, :] |= np.abs(grid[2:, :] - 2 * grid[1:-1, :] + grid[:-2, :]) > _JUMP_PX
        if jumps.any():
            grid_rows, grid_cols = np.nonzero(cv2.dilate(jumps, np.ones((3, 3), np.uint8)))
            offsets = np.arange(step)
            rows = (grid_rows[:, None, None] * step + offsets[None, :, None]).repeat(step, axis=2).ravel()
            cols = (grid_cols[:, None, None] * step + offsets[None, None, :]).repeat(step, axis=1).ravel()
            inside = (rows < box.height) & (cols < box.width)
            rows, cols = rows[inside], cols[inside]
            index = ids[rows, cols]
            a = affine[index]
            px, py = xs[cols], ys[rows]
            covered = index > 0
            map_x[rows, cols] = np.where(covered, a[:, 0, 0] * px + a[:, 0, 1] * py + a[:, 0, 2], px)
            map_y[rows, cols] = np.where(covered, a[:, 1, 0] * px + a[:, 1, 1] * py + a[:, 1, 2], py)
        return map_x, map_y


def _evaluate(affine: np.ndarray, ids: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remap tables at pixel positions xs (columns) and ys (rows): each covered pixel through its
    triangle's affine map; pixels no moving triangle covers (id 0) stay where they are.

    Id 0 gets the identity map, so every pixel is one lookup of its six coefficients: half the time
    of picking the covered pixels out first, and the same float32 sums, bit for bit."""
    table = np.ascontiguousarray(affine.reshape(len(affine), 6).T)  # (6, ids): one row per coefficient
    table[:, 0] = (1, 0, 0, 0, 1, 0)
    column, row = xs[None, :], ys[:, None]
    map_x = table[0][ids] * column
    map_x += table[1][ids] * row
    map_x += table[2][ids]
    map_y = table[3][ids] * column
    map_y += table[4][ids] * row
    map_y += table[5][ids]
    return map_x, map_y


def render(
    rgb: np.ndarray, alpha: np.ndarray | None, warps: list[tuple[FaceWarp, np.ndarray, np.ndarray | None]]
) -> Patch | None:
    """One frame: every face warped to its new vertex positions, as a patch over the still.

    `warps` holds, per face, its warp, the vertices' new positions and (or None) where they read from.
    """
    boxes = [
        (warp, dest, source, box) for warp, dest, source in warps if (box := warp.moving_box(dest, source)) is not None
    ]
    union = Box.union(*(box for *_, box in boxes))
    if union is None:
        return None
    out_rgb = rgb[union.y0 : union.y1, union.x0 : union.x1].copy()
    out_alpha = None if alpha is None else alpha[union.y0 : union.y1, union.x0 : union.x1].copy()
    for warp, dest, source, box in boxes:
        map_x, map_y = warp.source_maps(dest, box, source)
        region = (slice(box.y0 - union.y0, box.y1 - union.y0), slice(box.x0 - union.x0, box.x1 - union.x0))
        out_rgb[region] = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if alpha is not None and out_alpha is not None:
            out_alpha[region] = cv2.remap(alpha, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Patch(union, out_rgb, out_alpha)
