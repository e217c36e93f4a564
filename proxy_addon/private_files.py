"""Files the proxy keeps in its confdir for the user alone: 0600, in a 0700 folder."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_private_json(path: Path, data: object) -> None:
    """`data` as JSON in `path`, readable by its owner only; OSError when it cannot be written."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(data, file)
    path.chmod(0o600)  # a file made before with wider rights keeps its mode through os.open
