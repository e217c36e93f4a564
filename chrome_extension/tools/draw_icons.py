"""Draw the extension's toolbar and store icons: a round face that winks and smiles.

Run from the repository root: `uv run python chrome_extension/tools/draw_icons.py`.
Each size is drawn at 8x on its own canvas and scaled down, so edges are smooth; the small sizes
get relatively thicker strokes so the wink still reads at 16 px.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 32, 48, 128)
SUPERSAMPLE = 8
BACKGROUND = (35, 52, 94)  # deep blue tile, visible on light and dark toolbars
FACE = (255, 196, 61)
INK = (51, 33, 18)
OUT_DIR = Path(__file__).resolve().parents[1] / "icons"


def draw_icon(size: int) -> Image.Image:
    scale = size * SUPERSAMPLE
    image = Image.new("RGBA", (scale, scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def at(x: float, y: float) -> tuple[float, float]:
        """Unit-square coordinates to canvas pixels."""
        return x * scale, y * scale

    def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [*at(x0, y0), *at(x1, y1)]

    # Thicker lines, relative to the icon, when the icon is tiny.
    stroke = scale * (0.085 if size <= 16 else 0.07 if size <= 32 else 0.055)

    draw.rounded_rectangle(box(0, 0, 1, 1), radius=scale * 0.22, fill=BACKGROUND)
    draw.ellipse(box(0.1, 0.1, 0.9, 0.9), fill=FACE)

    # Open eye (viewer's left): a solid oval.
    draw.ellipse(box(0.31, 0.33, 0.43, 0.49), fill=INK)
    # Winking eye (viewer's right): a closed lid, an arc curving down.
    draw.arc(box(0.55, 0.34, 0.74, 0.52), start=195, end=345, fill=INK, width=round(stroke))
    # Smile, a little lopsided towards the winking side, as a real wink pulls that corner up.
    draw.arc(box(0.28, 0.42, 0.74, 0.76), start=20, end=160, fill=INK, width=round(stroke * 1.1))

    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT_DIR.mkdir(exist_ok=True)
    for size in SIZES:
        path = OUT_DIR / f"icon{size}.png"
        draw_icon(size).save(path, optimize=True)
        print(path)


if __name__ == "__main__":
    main()
