"""`uv run python -m certs show|install|uninstall|generate|path`: the proxy's CA and how to trust it.

mitmproxy's confdir for the project is certs/confdir (created on first run of the proxy, or by
`generate`). Only the public certificate ever leaves it; the private key stays readable by its owner.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import shlex
import shutil
import subprocess
import sys
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


def _quote(command: list[str]) -> str:
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
        *(f"  {_quote(c)}" for c in install_commands(cert, "Linux", home, [home / ".pki" / "nssdb"])),
        "Firefox (any system): Settings > Privacy & Security > Certificates > View Certificates >",
        f"  Authorities > Import... > {cert} > tick 'Trust this CA to identify websites'; on Linux also:",
        *(f"  {_quote(c)}" for c in install_commands(cert, "Linux", home, [firefox]) if "-A" in c),
        "macOS (Chrome, Safari; login keychain):",
        *(f"  {_quote(c)}" for c in install_commands(cert, "Darwin", Path("/Users/YOU"))),
        "Windows (Chrome, Edge; current user's Root store):",
        *(f"  {_quote(c)}" for c in install_commands(cert, "Windows", home)),
        "",
        "Restart the browser afterwards. Remove again with `uv run python -m certs uninstall`.",
    ]
    return "\n".join(lines)


def _run(commands: list[list[str]], dry_run: bool) -> int:
    for command in commands:
        print(f"$ {_quote(command)}")
        if dry_run:
            continue
        if command[0] == "mkdir":
            Path(command[-1]).mkdir(parents=True, exist_ok=True)
            continue
        if shutil.which(command[0]) is None:
            print(f"{command[0]} is missing (Debian/Ubuntu: apt install libnss3-tools).", file=sys.stderr)
            return 1
        result = subprocess.run(command, check=False)
        if result.returncode:
            return result.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m certs", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["show", "install", "uninstall", "generate", "path"])
    parser.add_argument("--confdir", type=Path, default=CONFDIR, help="mitmproxy confdir (default: %(default)s)")
    parser.add_argument(
        "--nssdb",
        type=Path,
        action="append",
        help="NSS database folder to use instead of the ones found (Linux; repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)
    # Removing trust must not be the thing that creates a CA (and its private key).
    cert = args.confdir / CERT_NAME if args.command == "uninstall" else generate(args.confdir)
    if args.command == "path":
        print(cert)
        return 0
    if args.command == "generate":
        print(f"CA certificate: {cert}")
        return 0
    if args.command == "show":
        print(show(cert))
        return 0
    system, home = platform.system(), Path.home()
    if args.command == "install":
        status = _run(install_commands(cert, system, home, args.nssdb), args.dry_run)
        if not status and not args.dry_run:
            print("Done. Restart the browser; then open http://wink.proxy/ through the proxy.")
        return status
    return _run(uninstall_commands(cert, system, home, args.nssdb), args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
