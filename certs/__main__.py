"""`uv run python -m certs show|install|uninstall|generate|path`: the proxy's CA and how to trust it.

A thin command line over certs/authority.py, which decides what to run; this module only runs it.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from certs.authority import CERT_NAME, CONFDIR, generate, install_commands, quote, show, uninstall_commands
from certs.signer import SIGNER_NAME, signer_fingerprint


def _run(commands: list[list[str]], dry_run: bool) -> int:
    for command in commands:
        print(f"$ {quote(command)}")
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
    parser = argparse.ArgumentParser(prog="python -m certs", description=(__doc__ or "").splitlines()[0])
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
        print("")
        print(f"Animation signer (C2PA Content Credentials): {args.confdir / SIGNER_NAME} (private: never share it)")
        print(f"Signer SHA-256 fingerprint: {signer_fingerprint(args.confdir)}")
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
