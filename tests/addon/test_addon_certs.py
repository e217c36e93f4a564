"""The CA command: a confdir with an owner-only key, the trust steps, a real install into an NSS db."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.fixtures import REPO


def certs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "certs", *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def nss_listing(nssdb: Path) -> str:
    command = ["certutil", "-L", "-d", f"sql:{nssdb}"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_addon_certs_generate_and_show(tmp_path):
    confdir = tmp_path / "confdir"
    result = certs("show", "--confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    cert = confdir / "mitmproxy-ca-cert.pem"
    assert str(cert) in result.stdout and "certutil -A" in result.stdout
    assert "security add-trusted-cert" in result.stdout and "-addstore" in result.stdout
    assert "PRIVATE KEY" not in result.stdout + result.stderr
    for name in ("mitmproxy-ca.pem", "mitmproxy-ca.p12"):
        assert stat.S_IMODE((confdir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(confdir.stat().st_mode) == 0o700
    again = certs("path", "--confdir", str(confdir))
    assert again.stdout.strip() == str(cert)  # the same CA, not a new one


@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
def test_addon_certs_install_into_nss_db(tmp_path):
    confdir, nssdb = tmp_path / "confdir", tmp_path / "nssdb"
    result = certs("install", "--confdir", str(confdir), "--nssdb", str(nssdb))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wink proxy CA (mitmproxy)" in nss_listing(nssdb)
    assert certs("uninstall", "--confdir", str(confdir), "--nssdb", str(nssdb)).returncode == 0
    assert "wink proxy CA" not in nss_listing(nssdb)


def test_uninstall_removes_only_this_ca_and_never_creates_one(tmp_path):
    from certs.authority import generate, thumbprint, uninstall_commands

    confdir = tmp_path / "confdir"
    assert certs("uninstall", "--confdir", str(confdir), "--nssdb", str(tmp_path / "none")).returncode == 0
    assert not confdir.exists()
    cert = generate(confdir)
    for system, delete in (
        ("Darwin", ["security", "delete-certificate", "-Z"]),
        ("Windows", ["certutil", "-delstore", "-user", "Root"]),
    ):
        (command,) = uninstall_commands(cert, system, tmp_path)
        assert command == [*delete, thumbprint(cert)] and len(thumbprint(cert)) == 40
