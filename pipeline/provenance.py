"""Stage 8, sign: C2PA Content Credentials that say, verifiably, that the animation is synthetic.

The XMP and EXIF marks (marking.py) are read by many tools but stripped by as many and verified by
none. A C2PA manifest binds the declaration to the file's bytes with a signature: `c2pa.created` with
IPTC's digitalSourceType compositeSynthetic, then `c2pa.edited` naming the product and the preset.
c2pa-python (the C2PA project's own SDK) writes and validates it, in every format the pipeline makes;
its auto-thumbnail is switched off, which would add hundreds of kilobytes to every image.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline import formats
from pipeline.errors import ImageError, UsageError
from pipeline.marking import DIGITAL_SOURCE_TYPE, SOFTWARE
from pipeline.types import SigningKey

__all__ = ["Verdict", "default_confdir", "inspect", "load_key", "sign"]

#: A JPEG file's first bytes, and what c2pa is told for it: not a format made here, but a photo's own
#: credentials are worth reading too. The output formats' own are in pipeline.formats.
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_C2PA_MIME = "image/jpeg"
#: Validation codes that are no fault of the file: the local signer is on no public trust list.
NOT_A_FAULT = frozenset({"signingCredential.untrusted"})
SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


def default_confdir() -> Path:
    """Where the signing key lives when nobody says: $WINK_CONFDIR, else the project's certs/confdir,
    the proxy's confdir in the README's run command, so the CLI and the proxy sign with one key."""
    from certs.authority import CONFDIR

    configured = os.environ.get("WINK_CONFDIR")
    return Path(configured).expanduser() if configured else CONFDIR


def load_key(confdir: Path | None = None) -> SigningKey:
    """The signing key of a confdir (the default one when None), made there on first use."""
    from certs.signer import ensure

    where = confdir if confdir is not None else default_confdir()
    try:
        chain, key = ensure(where)
    except OSError as error:
        raise UsageError(f"Cannot make or read the signing key in {where}: {error.strerror or error}.") from error
    return SigningKey(chain, key)


def _version() -> str:
    try:
        return metadata.version("wink")
    except metadata.PackageNotFoundError:
        return "0"


@cache
def _context(key: SigningKey) -> Any:
    """A c2pa Context holding the signer, made once per key and process (it is reused by every Builder)."""
    import c2pa

    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, key.chain_pem, key.key_pem, None))
    return c2pa.ContextBuilder().with_settings(c2pa.Settings.from_dict(SETTINGS)).with_signer(signer).build()


def manifest(preset: str, when: datetime.datetime) -> dict[str, Any]:
    """The manifest definition: what made the file, that it is synthetic, and with which preset."""
    agent = {"name": SOFTWARE, "version": _version()}
    stamp = when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    actions = [
        {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE, "when": stamp, "softwareAgent": agent},
        {
            "action": "c2pa.edited",
            "when": stamp,
            "softwareAgent": agent,
            "description": f"The face's motion was made by {SOFTWARE} with the preset {preset!r}; it never happened.",
            "parameters": {"preset": preset},
        },
    ]
    return {
        "claim_generator_info": [agent],
        "title": f"{SOFTWARE}: synthetic animation",
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}],
    }


def sign(data: bytes, fmt: str, preset: str, key: SigningKey, when: datetime.datetime | None = None) -> bytes:
    """The animation with its Content Credentials embedded (about 3.5 KB more)."""
    import c2pa

    definition = manifest(preset, when or datetime.datetime.now(datetime.UTC))
    if fmt == "gif":
        with c2pa.Builder(definition, _context(key)) as builder:
            placed = _sign_gif_in_place(builder, data)
        if placed is not None:
            return placed
    signed = io.BytesIO()
    with c2pa.Builder(definition, _context(key)) as builder:  # a fresh one: the attempt above changed its own
        builder.sign(formats.get(fmt).c2pa_mime, io.BytesIO(data), signed)
    return signed.getvalue()


@cache
def _embeddable_api() -> Any:
    """c2pa's C functions for signing a placeholder the caller embeds (c2pa-rs's "embeddable" API),
    typed for ctypes; c2pa-python 0.38 ships them in its library but wraps none. None when absent."""
    import ctypes

    from c2pa import c2pa as native

    lib, out = native._lib, ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))
    builder, stream = ctypes.POINTER(native.C2paBuilder), ctypes.POINTER(native.C2paStream)
    try:
        prototypes = {
            "c2pa_builder_placeholder": ([builder, ctypes.c_char_p, out], ctypes.c_int64),
            "c2pa_builder_set_data_hash_exclusions": (
                [builder, ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t],
                ctypes.c_int,
            ),
            "c2pa_builder_update_hash_from_stream": ([builder, ctypes.c_char_p, stream], ctypes.c_int),
            "c2pa_builder_sign_embeddable": ([builder, ctypes.c_char_p, out], ctypes.c_int64),
        }
        for name, (arguments, result) in prototypes.items():
            function = getattr(lib, name)
            function.argtypes, function.restype = arguments, result
    except AttributeError:
        return None
    return lib


def _gif_manifest_offset(data: bytes) -> int:
    """Where c2pa itself puts a GIF's manifest: after the header, the logical screen descriptor and
    the global colour table (whose size the descriptor's packed byte gives)."""
    packed = data[10]
    return 13 + (3 * 2 ** ((packed & 0x07) + 1) if packed & 0x80 else 0)


def _sign_gif_in_place(builder: Any, data: bytes) -> bytes | None:
    """A signed GIF made without c2pa walking the file: `Builder.sign` reads a GIF's 255-byte data
    sub-blocks one by one through c2pa-python's Python stream callbacks (thousands of seeks for a
    big GIF). Here c2pa makes a placeholder manifest, which goes where it would put it; it hashes
    the file around it in a few large reads; and the signed manifest, of the same size, replaces
    the placeholder. None when this c2pa lacks the API or refuses, so `sign` does it the
    usual way."""
    import ctypes

    import c2pa

    lib = _embeddable_api()
    if lib is None or not formats.get("gif").matches(data) or len(data) < 14:
        return None
    handle, mime = builder._handle, formats.get("gif").c2pa_mime.encode()
    made = ctypes.POINTER(ctypes.c_ubyte)()
    size = lib.c2pa_builder_placeholder(handle, mime, ctypes.byref(made))
    if size <= 0 or not made:
        return None
    placeholder = ctypes.string_at(made, size)
    lib.c2pa_free(made)
    at = _gif_manifest_offset(data)
    out = bytearray(data[:at] + placeholder + data[at:])
    if lib.c2pa_builder_set_data_hash_exclusions(handle, (ctypes.c_uint64 * 2)(at, size), 1) != 0:
        return None
    with c2pa.Stream(io.BytesIO(bytes(out))) as stream:
        if lib.c2pa_builder_update_hash_from_stream(handle, mime, stream._stream) != 0:
            return None
    made = ctypes.POINTER(ctypes.c_ubyte)()
    signed_size = lib.c2pa_builder_sign_embeddable(handle, mime, ctypes.byref(made))
    if signed_size != size or not made:
        if made:
            lib.c2pa_free(made)
        return None
    out[at : at + size] = ctypes.string_at(made, size)
    lib.c2pa_free(made)
    return bytes(out)


@dataclass(frozen=True)
class Verdict:
    """What a file's Content Credentials say, and whether its bytes are still the ones signed."""

    synthetic: bool
    preset: str | None
    when: str | None
    signer: str
    generator: str
    state: str  # c2pa's validation_state: Valid, Trusted or Invalid
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _c2pa_mime(data: bytes) -> str | None:
    """The media type c2pa reads the file as, from its first bytes; None for one it is not."""
    if data[:3] == JPEG_MAGIC:
        return JPEG_C2PA_MIME
    found = formats.sniff(data[:64])
    return found.c2pa_mime if found is not None else None


def inspect(data: bytes) -> Verdict | None:
    """The verdict on a file's credentials, or None when it carries none.

    Raises ImageError for bytes that are not an image c2pa reads, or whose credentials cannot be parsed.
    """
    import c2pa

    mime = _c2pa_mime(data)
    if mime is None:
        raise ImageError("The file is not a WebP, PNG, GIF, AVIF or JPEG image.")
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data))
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as error:
        raise ImageError(f"Its Content Credentials are damaged beyond reading ({type(error).__name__}).") from error
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    actions = [
        action
        for assertion in active.get("assertions", [])
        if str(assertion.get("label", "")).startswith("c2pa.actions")
        for action in assertion.get("data", {}).get("actions", [])
    ]
    created: dict[str, Any] = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    preset = next((a.get("parameters", {}).get("preset") for a in actions if a.get("action") == "c2pa.edited"), None)
    results = store.get("validation_results")
    failures = results.get("activeManifest", {}).get("failure", []) if results else store.get("validation_status", [])
    problems = sorted({str(f.get("code")) for f in failures} - NOT_A_FAULT)
    state = str(store.get("validation_state", "Invalid"))
    if state == "Invalid" and not problems:
        problems = ["validation.invalid"]
    info = active.get("signature_info", {})
    generators = active.get("claim_generator_info", [{}])
    return Verdict(
        synthetic=created.get("digitalSourceType") == DIGITAL_SOURCE_TYPE,
        preset=preset,
        when=created.get("when") or info.get("time"),
        signer=", ".join(str(part) for part in (info.get("common_name"), info.get("issuer")) if part) or "unknown",
        generator=" ".join(str(generators[0].get(k, "")) for k in ("name", "version")).strip() if generators else "",
        state=state,
        problems=problems,
    )
