"""The control API's per-install secret, and pairing: the wink extension gets it from the proxy once.

The secret lives in the confdir (`wink-control.json`, 0600, in a 0700 folder), next to the CA's key:
a process that can read it could read the CA key as well. State changes need it in `X-Wink-Secret`.
The pinned extension may fetch it once (`POST /api/pair`); after that nobody can, until the file is
deleted (a new secret is made at the next start). A local script reads the file itself.

Firefox gives each installed extension a random origin (`moz-extension://<UUID>`, made at install,
different in every profile), so the proxy cannot know it beforehand: the Firefox origin that pairs
is remembered here with the secret, and from then on it is the only Firefox origin the API answers.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import secrets
from pathlib import Path

from proxy_addon.private_files import write_private_json

logger = logging.getLogger(__name__)

FILE_NAME = "wink-control.json"


class AlreadyPaired(Exception):
    """The secret was handed out before; it is never handed out twice."""


class Pairing:
    """The secret and whether it was handed out, kept in one private file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.secret = secrets.token_urlsafe(32)
        self.paired = False
        #: The moz-extension:// origin that paired, if a Firefox extension did.
        self.firefox_origin: str | None = None
        if path is not None:
            self._load_or_create(path)

    def _load_or_create(self, path: Path) -> None:
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            data = json.loads(path.read_text())
            if isinstance(data["secret"], str) and len(data["secret"]) >= 32:
                self.secret, self.paired = data["secret"], bool(data["paired"])
                origin = data.get("firefox_origin")
                self.firefox_origin = origin if isinstance(origin, str) else None
                return
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            write_private_json(
                self.path, {"secret": self.secret, "paired": self.paired, "firefox_origin": self.firefox_origin}
            )
        except OSError as error:
            logger.warning("wink: cannot keep the control API's secret in the confdir (%s).", error.strerror)

    def check(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.secret.encode())

    def pair(self, firefox_origin: str | None = None) -> str:
        """The secret, the first time only; a Firefox extension's origin is remembered."""
        if self.paired:
            raise AlreadyPaired
        self.paired, self.firefox_origin = True, firefox_origin
        self._save()
        return self.secret
