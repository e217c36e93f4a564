"""Through the real proxy: every animation it serves is signed by the key in the proxy's own confdir."""

from __future__ import annotations

import io
import json
import stat

import c2pa
from cryptography import x509
from PIL import Image

from certs.signer import SIGNER_NAME, ensure
from pipeline import formats, provenance
from testkit.harness import WEBP_ACCEPT, Mitmdump, Origin, Route, temp_workdir

# A request names image types, or the proxy leaves it alone (issue 12): GIF is what a client gets that
# takes images but neither WebP nor APNG.
ACCEPTS = {"webp": WEBP_ACCEPT, "apng": "image/apng,image/*;q=0.8", "gif": "image/gif,image/*;q=0.8"}


def _as_avif(jpeg: bytes) -> bytes:
    """The photo as a site serving AVIF sends it."""
    out = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as image:
        image.convert("RGB").save(out, "AVIF", quality=60)
    return out.getvalue()


def test_proxy_signs_every_format_with_its_confdir_key(fixtures):
    """AVIF is what a browser that names image/avif gets for a photo served as AVIF."""
    photo = (fixtures / "faces" / "zeman" / "zeman_1.jpg").read_bytes()
    origin = Origin({"/zeman_1.jpg": Route(photo, "image/jpeg"), "/zeman_1.avif": Route(_as_avif(photo), "image/avif")})
    proxy = Mitmdump(temp_workdir(), wink_timeout=60, wink_workers=1)
    try:
        proxy.wait_ready()
        served = {fmt: proxy.client.get(origin.url("/zeman_1.jpg"), accept=accept) for fmt, accept in ACCEPTS.items()}
        served["avif"] = proxy.client.get(origin.url("/zeman_1.avif"), accept=WEBP_ACCEPT)
    finally:
        proxy.stop()
        origin.close()
    key_file = proxy.confdir / SIGNER_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signer = x509.load_pem_x509_certificates(ensure(proxy.confdir)[0])[0]
    for fmt, reply in served.items():
        assert reply.headers["content-type"] == formats.get(fmt).http_mime, fmt
        verdict = provenance.inspect(reply.body)
        assert verdict is not None and verdict.synthetic and verdict.intact, fmt
        with c2pa.Reader(formats.get(fmt).c2pa_mime, io.BytesIO(reply.body)) as reader:
            store = json.loads(reader.json())
        info = store["manifests"][store["active_manifest"]]["signature_info"]
        assert int(info["cert_serial_number"]) == signer.serial_number, fmt  # this proxy's key, no other
    assert "PRIVATE KEY" not in proxy.log()
