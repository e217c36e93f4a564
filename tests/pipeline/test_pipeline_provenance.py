"""C2PA Content Credentials: every format is signed as synthetic, and a changed byte is caught.

Read back with c2pa.Reader itself (not only through pipeline.provenance), so the check does not
rest on the code it checks.
"""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys

import c2pa
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.signer import SIGNER_NAME, ensure, split
from pipeline import formats, provenance
from pipeline.api import FORMATS, Animator
from pipeline.marking import DIGITAL_SOURCE_TYPE
from pipeline.types import SigningKey
from testkit.fixtures import REPO, fixture_path

PHOTOS = [("faces/zeman/zeman_1.jpg", "zeman"), ("scenes/32bit.png", "any")]


@pytest.fixture(scope="module")
def confdir(tmp_path_factory):
    return tmp_path_factory.mktemp("confdir")


@pytest.fixture(scope="module")
def outputs(confdir):
    """(photo, format) -> the signed animation, for an opaque JPEG and an RGBA PNG."""
    made = {}
    for relative, target in PHOTOS:
        animator = Animator(target, "wink", confdir=confdir)
        data = fixture_path(relative).read_bytes()
        for fmt in FORMATS:
            result = animator.animate(data, fmt)
            assert result.data is not None, f"{relative} was not animated"
            made[(relative, fmt)] = result.data
    return made


def _read(data: bytes, fmt: str) -> dict:
    with c2pa.Reader(formats.get(fmt).c2pa_mime, io.BytesIO(data)) as reader:
        return json.loads(reader.json())


def _actions(store: dict) -> list[dict]:
    active = store["manifests"][store["active_manifest"]]
    [actions] = [a["data"]["actions"] for a in active["assertions"] if a["label"].startswith("c2pa.actions")]
    return actions


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("relative", [p for p, _ in PHOTOS])
def test_every_format_carries_credentials_declaring_composite_synthetic(outputs, relative, fmt):
    store = _read(outputs[(relative, fmt)], fmt)
    actions = _actions(store)
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    edited = [a for a in actions if a["action"] == "c2pa.edited"]
    assert edited and edited[0]["parameters"]["preset"] == "wink"
    generator = store["manifests"][store["active_manifest"]]["claim_generator_info"][0]
    assert generator["name"] == "In the wink of an eye" and generator["version"]
    failures = {f["code"] for f in store["validation_results"]["activeManifest"]["failure"]}
    assert failures <= {"signingCredential.untrusted"}  # a local key: honest, and the only complaint
    assert store["validation_state"] != "Invalid"


def _image_byte(data: bytes, fmt: str) -> int:
    """An offset inside the pixels' compressed data, away from the manifest (which c2pa puts at the
    WebP's end, a PNG's start, a GIF's start and in an AVIF's own uuid box)."""
    if fmt == "webp":
        return data.index(b"VP8 ") + 100
    if fmt == "apng":
        return data.index(b"IDAT") + 100
    if fmt == "avif":
        return data.index(b"mdat") + 100  # the AV1 frames
    return len(data) - 100  # a GIF's last frame


#: What c2pa calls a changed byte: ISO BMFF files (AVIF) are bound by a box-wise hash, the rest by one
#: hash of the bytes around the manifest.
MISMATCH = {"avif": "assertion.bmffHash.mismatch"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_flipping_one_image_byte_is_reported_as_a_mismatch(outputs, fmt):
    data = bytearray(outputs[(PHOTOS[0][0], fmt)])
    data[_image_byte(data, fmt)] ^= 0x01
    store = _read(bytes(data), fmt)
    failures = {f["code"] for f in store["validation_results"]["activeManifest"]["failure"]}
    mismatch = MISMATCH.get(fmt, "assertion.dataHash.mismatch")
    assert mismatch in failures
    assert store["validation_state"] == "Invalid"
    verdict = provenance.inspect(bytes(data))
    assert verdict is not None and not verdict.intact and mismatch in verdict.problems


def test_inspect_reports_the_declaration_and_an_intact_file(outputs):
    verdict = provenance.inspect(outputs[(PHOTOS[0][0], "webp")])
    assert verdict is not None and verdict.intact and verdict.synthetic
    assert verdict.preset == "wink" and verdict.when and "wink animation signer" in verdict.signer


def test_signing_key_lives_owner_only_in_the_confdir_and_never_in_a_repr(confdir, outputs):
    path = confdir / SIGNER_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    chain_pem, key_pem = ensure(confdir)
    assert split(path.read_bytes()) == (chain_pem, key_pem)  # made once, then reused
    assert key_pem.decode() not in repr(SigningKey(chain_pem, key_pem))
    signer, root = x509.load_pem_x509_certificates(chain_pem)
    assert signer.issuer == root.subject and signer.subject != root.subject
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    purposes = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in purposes
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def wink(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=REPO, timeout=300
    )


def test_wink_verify_says_synthetic_valid_or_tampered(outputs, tmp_path):
    good = tmp_path / "good.gif"
    good.write_bytes(outputs[(PHOTOS[0][0], "gif")])
    run = wink("verify", str(good))
    assert run.returncode == 0, run.stderr
    assert "synthetic: yes" in run.stdout and "preset:    wink" in run.stdout and "valid" in run.stdout
    changed = bytearray(good.read_bytes())
    changed[_image_byte(changed, "gif")] ^= 0x01
    bad = tmp_path / "bad.gif"
    bad.write_bytes(bytes(changed))
    run = wink("verify", str(bad))
    assert run.returncode == 1 and "TAMPERED" in run.stdout


@pytest.mark.parametrize("damage", ["strip", "manifest", "text"])
def test_wink_verify_fails_in_one_sentence_without_sound_credentials(fixtures, outputs, tmp_path, damage):
    signed = outputs[(PHOTOS[0][0], "webp")]
    if damage == "strip":  # the photo itself: never signed
        data = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
        name = "photo.jpg"
    elif damage == "manifest":  # a byte inside the signed claim itself
        data = bytearray(signed)
        data[signed.index(b"c2pa.actions") + 20] ^= 0x01
        name = "broken.webp"
    else:
        data, name = b"not an image", "notes.webp"
    path = tmp_path / name
    path.write_bytes(bytes(data))
    run = wink("verify", str(path))
    assert run.returncode == 1
    if damage == "manifest":
        assert "TAMPERED" in run.stdout or len(run.stderr.strip().splitlines()) == 1
    else:
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in run.stderr
