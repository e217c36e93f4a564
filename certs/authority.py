"""The proxy's CA: where it lives, how to create it, and the commands that make browsers trust it.

mitmproxy's confdir for the project is certs/confdir (created on first run of the proxy, or by
`generate`). Only the public certificate ever leaves it; the private key stays readable by its owner.
Nothing here runs a command: `python -m certs` (certs/__main__.py) does, and prints each first.
"""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

CONFDIR = Path(__file__).resolve().parent / "confdir"
NICKNAME = "wink proxy CA (mitmproxy)"
CERT_NAME = "mitmproxy-ca-cert.pem"
#: Files holding the CA's private key.
SECRET_NAMES = ("mitmproxy-ca.pem", "mitmproxy-ca.p12")


def generate(confdir: Path) -> Path:
    """Create the CA (as mitmproxy would on first start) if missing; make key files owner-only."""
    confdir.mkdir(parents=True, exist_ok=True)
    confdir.chmod(0o700)
    if not (confdir / CERT_NAME).is_file():
        from mitmproxy.certs import CertStore

        CertStore.from_store(str(confdir), "mitmproxy", 2048)
    for name in SECRET_NAMES:
        secret = confdir / name
        if secret.exists():
            secret.chmod(0o600)
    return confdir / CERT_NAME


def _der(cert: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)


def thumbprint(cert: Path) -> str:
    """SHA-1 of the certificate, the name macOS's keychain and Windows' certificate store go by."""
    return hashlib.sha1(_der(cert)).hexdigest().upper()


def fingerprint(cert: Path) -> str:
    digest = hashlib.sha256(_der(cert)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def nss_databases(home: Path) -> list[Path]:
    """Chrome/Chromium's shared NSS db on Linux and every Firefox profile found."""
    found = [home / ".pki" / "nssdb"]
    snap = home / "snap" / "firefox" / "common"
    for root in (home / ".mozilla" / "firefox", snap / ".mozilla" / "firefox"):
        if root.is_dir():
            found += sorted(p.parent for p in root.glob("*/cert9.db"))
    return found


def install_commands(cert: Path, system: str, home: Path, nssdbs: list[Path] | None = None) -> list[list[str]]:
    """The commands that make browsers on `system` trust the CA (for the current user only)."""
    if system == "Darwin":
        keychain = home / "Library" / "Keychains" / "login.keychain-db"
        return [["security", "add-trusted-cert", "-r", "trustRoot", "-k", str(keychain), str(cert)]]
    if system == "Windows":
        return [["certutil", "-addstore", "-user", "Root", str(cert.with_suffix(".cer"))]]
    commands = []
    for db in nssdbs if nssdbs is not None else nss_databases(home):
        if not (db / "cert9.db").exists():
            commands.append(["mkdir", "-p", str(db)])
            commands.append(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"])
        commands.append(["certutil", "-A", "-d", f"sql:{db}", "-t", "C,,", "-n", NICKNAME, "-i", str(cert)])
    return commands


def uninstall_commands(cert: Path, system: str, home: Path, nssdbs: list[Path] | None = None) -> list[list[str]]:
    if system in ("Darwin", "Windows"):
        # By this CA's own SHA-1 thumbprint: by name, any other mitmproxy CA the user trusts would go too.
        if not cert.is_file():
            return []
        if system == "Darwin":
            return [["security", "delete-certificate", "-Z", thumbprint(cert)]]
        return [["certutil", "-delstore", "-user", "Root", thumbprint(cert)]]
    return [
        ["certutil", "-D", "-d", f"sql:{db}", "-n", NICKNAME]
        for db in (nssdbs if nssdbs is not None else nss_databases(home))
        if (db / "cert9.db").exists()
    ]


def quote(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)


def show(cert: Path) -> str:
    home = Path.home()
    firefox = home / ".mozilla" / "firefox" / "PROFILE.default-release"
    lines = [
        f"CA certificate: {cert}",
        f"SHA-256 fingerprint: {fingerprint(cert)}",
        "(only this public certificate is needed; never share the files mitmproxy-ca.pem / .p12)",
        "",
        "Trust it for this user (or run `uv run python -m certs install` to do it on this machine):",
        "",
        "Chrome / Chromium on Linux (NSS database; certutil is in the libnss3-tools package):",
        *(f"  {quote(c)}" for c in install_commands(cert, "Linux", home, [home / ".pki" / "nssdb"])),
        "Firefox (any system): Settings > Privacy & Security > Certificates > View Certificates >",
        f"  Authorities > Import... > {cert} > tick 'Trust this CA to identify websites'; on Linux also:",
        *(f"  {quote(c)}" for c in install_commands(cert, "Linux", home, [firefox]) if "-A" in c),
        "macOS (Chrome, Safari; login keychain):",
        *(f"  {quote(c)}" for c in install_commands(cert, "Darwin", Path("/Users/YOU"))),
        "Windows (Chrome, Edge; current user's Root store):",
        *(f"  {quote(c)}" for c in install_commands(cert, "Windows", home)),
        "",
        "Restart the browser afterwards. Remove again with `uv run python -m certs uninstall`.",
    ]
    return "\n".join(lines)
