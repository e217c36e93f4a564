"""Make the README's pictures from scikit-image's public-domain `astronaut` photo (Eileen Collins, NASA).

    uv run python docs/make_pictures.py

No photo of a real person from ../shared/fixtures ever goes into the repository; this one is in the
public domain and ships inside a package.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from skimage import data

HERE = Path(__file__).resolve().parent
PRESETS = ("wink", "blink", "smile", "surprise")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "astronaut.png"
        Image.fromarray(data.astronaut()).save(photo)
        for preset in PRESETS:
            out = HERE / f"preview-{preset}.png"
            subprocess.run([sys.executable, "-m", "pipeline", "preview", "--preset", preset, "--target", "any",
                            str(photo), "-o", str(out)], check=True)
            print(out)


if __name__ == "__main__":
    main()
