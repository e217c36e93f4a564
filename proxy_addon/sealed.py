"""Cache values as stored, on disk or in Redis: behind a digest of themselves, checked on every read."""

from __future__ import annotations

import hashlib

DIGEST_SIZE = 16


def seal(value: bytes) -> bytes:
    """A value as stored: its digest first."""
    return hashlib.blake2b(value, digest_size=DIGEST_SIZE).digest() + value


def unseal(stored: bytes) -> bytes | None:
    """The value, or None when the stored bytes do not match their digest."""
    digest, value = stored[:DIGEST_SIZE], stored[DIGEST_SIZE:]
    if len(digest) != DIGEST_SIZE or hashlib.blake2b(value, digest_size=DIGEST_SIZE).digest() != digest:
        return None
    return value
