"""The key that signs every animation's C2PA Content Credentials, kept beside the proxy's CA.

Made on this machine on first use: a local root certificate signs one end-entity certificate (ES256,
digitalSignature, emailProtection and documentSigning: the usages C2PA validators accept for claim
signing), and the root's own private key is then thrown away, so nothing else can ever be issued
under it. The end-entity key is the only secret; it is written owner-only and never printed. A
validator will call the signer untrusted, which is honest: it is a local key, on no trust list.

Key and chain share one owner-only PEM file, as mitmproxy's own mitmproxy-ca.pem does, so that two
worker processes starting at once can never pair one's certificate with the other's key.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
from pathlib import Path

#: The PEM file in the confdir: the end entity's private key, its certificate, then the local root's.
SIGNER_NAME = "wink-signer.pem"
ORGANIZATION = "In the wink of an eye (local signer)"
#: How long a made chain is good for; an expired or nearly expired one is replaced on next use.
VALID_DAYS = 825
RENEW_DAYS = 7
#: id-kp-documentSigning (RFC 9336), one of the extended key usages C2PA lists for claim signers.
DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"


def ensure(confdir: Path) -> tuple[bytes, bytes]:
    """(PEM chain, PEM key) of the signer in `confdir`, made now when missing, broken or about to expire."""
    path = confdir / SIGNER_NAME
    if path.is_file():
        found = split(path.read_bytes())
        if found is not None and _still_good(found[0]):
            path.chmod(0o600)
            return found
    confdir.mkdir(parents=True, exist_ok=True)
    chain_pem, key_pem = _make_chain()
    _write_secret(path, key_pem + chain_pem, replace=path.exists())
    found = split(path.read_bytes())  # another process may have made it first: its key is the one
    assert found is not None, "a signer file just written holds a key and a chain"
    return found


def split(pem: bytes) -> tuple[bytes, bytes] | None:
    """(certificate chain, private key) from one PEM file holding both, or None when either is missing.

    Read with cryptography's loaders (which find each kind of block) and written back as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem, password=None)
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain), key_pem


def signer_fingerprint(confdir: Path) -> str:
    """SHA-256 fingerprint of the signing (end-entity) certificate, made if missing."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_pem_x509_certificate(ensure(confdir)[0])
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _still_good(chain_pem: bytes) -> bool:
    from cryptography import x509

    try:
        certificate = x509.load_pem_x509_certificate(chain_pem)
    except ValueError:
        return False
    left = certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    return left > datetime.timedelta(days=RENEW_DAYS)


def _write_secret(path: Path, data: bytes, replace: bool) -> None:
    """Write owner-only from the first byte (no moment at which the key is readable by others). A new
    file is linked into place only if none is there yet; a stale one is replaced."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    try:
        if replace:
            tmp.replace(path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _make_chain() -> tuple[bytes, bytes]:
    """(PEM chain: end entity then root, PEM PKCS#8 key of the end entity)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        parts = [(NameOID.ORGANIZATION_NAME, ORGANIZATION), (NameOID.COMMON_NAME, common)]
        return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])

    def usage(signing: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=signing,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=not signing,
            crl_sign=not signing,
            encipher_only=False,
            decipher_only=False,
        )

    root_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name, signer_name = name("wink local root"), name("wink animation signer")
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=VALID_DAYS)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer = (
        x509.CertificateBuilder()
        .subject_name(signer_name)
        .issuer_name(root_name)
        .public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(signing=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(DOCUMENT_SIGNING)]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return signer.public_bytes(pem) + root.public_bytes(pem), key_pem
