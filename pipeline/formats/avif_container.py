"""The animated AVIF's boxes (ISO BMFF), made safe for the C2PA signature that follows.

libavif writes an image sequence's EXIF and XMP twice: as items of the file's `meta` box and again in
a `meta` box inside the track. c2pa-python (c2pa-rs 0.91) puts its manifest box after `ftyp`, which
moves every byte behind it; it rewrites the file-level `iloc` and the track's `stco`, but not the
track's own `iloc`, whose offsets then point into the AV1 data (libavif: "Invalid Exif payload",
and the file no longer opens). So the track's copy is taken out here, before signing: the file-level
items stay, and every offset into `mdat` moves back by what was taken out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["boxes", "ftyp_brands", "without_track_metadata"]

#: Boxes whose children are boxes (only those on the path to what is changed are walked).
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def boxes(data: bytes | bytearray, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, offset, header size, size) of each box between start and end."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise ValueError(f"a {kind!r} box at {offset} runs past its parent")
        yield kind, offset, header, size
        offset += size


def ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO media file's leading ftyp box (as far as `head` goes).

    An AVIF may name the generic image brand `mif1` first and `avif` only among the compatible ones."""
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), size) if size >= 16 else len(head)
    return {head[8:12]} | {head[offset : offset + 4] for offset in range(16, end - 3, 4)}


def without_track_metadata(data: bytes) -> bytes:
    """The AVIF without the `meta` boxes inside its tracks (a still AVIF comes back unchanged).

    Raises ValueError for boxes this does not know how to move (64-bit sizes on the way, `co64`,
    an `iloc` that is not libavif's), so a caller can keep the file as it was.
    """
    out = bytearray(data)
    top = list(boxes(out, 0, len(out)))
    moov = next(((offset, header, size) for kind, offset, header, size in top if kind == b"moov"), None)
    if moov is None:
        return data
    cuts: list[tuple[int, int]] = []  # (offset, size) of each track meta box
    parents: list[int] = []  # offsets of the boxes whose size shrinks: moov and each trak cut from
    for kind, offset, header, size in boxes(out, moov[0] + moov[1], moov[0] + moov[2]):
        if kind != b"trak":
            continue
        inner = [(k, o, s) for k, o, _, s in boxes(out, offset + header, offset + size) if k == b"meta"]
        if inner:
            parents.append(offset)
            cuts += [(o, s) for _, o, s in inner]
    if not cuts:
        return data
    removed = sum(size for _, size in cuts)
    first_cut = min(offset for offset, _ in cuts)

    def moved(position: int) -> int:
        return position - removed if position >= first_cut else position

    _shift_chunk_offsets(out, moov[0] + moov[1], moov[0] + moov[2], moved)
    for kind, offset, header, size in top:
        if kind == b"meta":
            for child, at, child_header, _ in boxes(out, offset + header + 4, offset + size):
                if child == b"iloc":
                    _shift_item_offsets(out, at + child_header, moved)
    for offset in (moov[0], *parents):
        size = struct.unpack_from(">I", out, offset)[0]
        if size == 1:
            raise ValueError("a 64-bit box size on the way to the track metadata")
        taken = sum(s for o, s in cuts if offset < o < offset + size)
        struct.pack_into(">I", out, offset, size - taken)
    for offset, size in sorted(cuts, reverse=True):
        del out[offset : offset + size]
    return bytes(out)


def _shift_chunk_offsets(out: bytearray, start: int, end: int, moved) -> None:
    """Every `stco` entry under start..end, moved (`co64` is refused: libavif writes `stco`)."""
    for kind, offset, header, size in boxes(out, start, end):
        if kind in _CONTAINERS:
            _shift_chunk_offsets(out, offset + header, offset + size, moved)
        elif kind == b"co64":
            raise ValueError("64-bit chunk offsets")
        elif kind == b"stco":
            count = struct.unpack_from(">I", out, offset + header + 4)[0]
            for index in range(count):
                at = offset + header + 8 + 4 * index
                struct.pack_into(">I", out, at, moved(struct.unpack_from(">I", out, at)[0]))


def _shift_item_offsets(out: bytearray, at: int, moved) -> None:
    """An `iloc` box's file offsets, moved (ISO/IEC 14496-12 8.11.3; versions 0-2, construction
    method 0: offsets from the file's start)."""
    version = out[at]
    sizes = struct.unpack_from(">BB", out, at + 4)
    offset_size, length_size, base_size = sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4
    index_size = sizes[1] & 15 if version in (1, 2) else 0
    position = at + 6
    if version < 2:
        count, position = struct.unpack_from(">H", out, position)[0], position + 2
    else:
        count, position = struct.unpack_from(">I", out, position)[0], position + 4
    if offset_size == 0 or any(s not in (0, 4, 8) for s in (offset_size, length_size, base_size)):
        raise ValueError(f"an iloc with {offset_size}/{length_size}/{base_size}-byte fields")
    formats = {4: ">I", 8: ">Q"}
    for _ in range(count):
        position += 2 if version < 2 else 4  # item_ID
        if version in (1, 2):
            if out[position + 1] & 15:
                raise ValueError("an iloc item not stored in the file itself")
            position += 2
        position += 2  # data_reference_index
        base = struct.unpack_from(formats[base_size], out, position)[0] if base_size else 0
        if base:  # the extents count from it
            struct.pack_into(formats[base_size], out, position, moved(base))
        position += base_size
        extents, position = struct.unpack_from(">H", out, position)[0], position + 2
        for _ in range(extents):
            position += index_size
            extent = struct.unpack_from(formats[offset_size], out, position)[0]
            if not base:
                struct.pack_into(formats[offset_size], out, position, moved(extent))
            position += offset_size + length_size
