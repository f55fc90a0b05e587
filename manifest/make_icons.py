"""Draw the Teams app icons: a roundabout where four roads meet — a *carrefour*.

Run `python manifest/make_icons.py` to regenerate `color.png` (192×192) and `outline.png`
(32×32) next to this script. The PNGs are committed; this script is how they were made.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent

# Deep teal; keep in sync with `accentColor` in manifest.template.json.
TEAL = (14, 94, 99)
WHITE = (255, 255, 255)

# Shapes are drawn this many times larger, then reduced, for smooth edges.
SUPERSAMPLE = 8


def crossroads_mask(
    size: int, *, extent: float, road: float, ring: float, width: float, dashes: int = 0
) -> Image.Image:
    """An 8-bit alpha mask of the motif; lengths are fractions of `size`.

    `extent` is how far each road reaches from the centre, `road` its width, `ring` the
    roundabout's outer radius, `width` the ring's; `dashes` lane marks are cut into each road.
    """
    big = size * SUPERSAMPLE
    c = big / 2
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    half_road, reach = road * big / 2, extent * big
    outer, inner = ring * big, (ring - width) * big
    # Four roads: one horizontal and one vertical band, cut out again where the ring's hole is,
    # so the roads stop at the roundabout instead of crossing it.
    draw.rectangle((c - reach, c - half_road, c + reach, c + half_road), fill=255)
    draw.rectangle((c - half_road, c - reach, c + half_road, c + reach), fill=255)
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), fill=255)
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), fill=0)
    if dashes:
        # Centre-line marks from the ring outwards: what makes the bands read as roads.
        start, step = outer + 0.02 * big, (reach - outer - 0.02 * big) / dashes
        mark, line = step * 0.55, max(road * big / 7, SUPERSAMPLE)
        for i in range(dashes):
            a, b = start + i * step, start + i * step + mark
            for sign in (-1, 1):
                lo, hi = sorted((c + sign * a, c + sign * b))
                draw.rectangle((lo, c - line / 2, hi, c + line / 2), fill=0)
                draw.rectangle((c - line / 2, lo, c + line / 2, hi), fill=0)
    return mask.resize((size, size), Image.Resampling.BOX)


def color_icon() -> Image.Image:
    """192×192, white motif on an opaque teal square (Teams rounds the corners itself)."""
    size = 192
    # Teams asks for the symbol to stay within the central ~2/3 so it survives cropping.
    mask = crossroads_mask(size, extent=0.36, road=0.15, ring=0.21, width=0.085, dashes=2)
    icon = Image.new("RGB", (size, size), TEAL)
    icon.paste(Image.new("RGB", (size, size), WHITE), (0, 0), mask)
    return icon


def outline_icon() -> Image.Image:
    """32×32, white on transparent: every pixel is white, only the alpha channel varies."""
    size = 32
    # Thicker strokes than the colour icon so the shapes stay legible at 32 px.
    mask = crossroads_mask(size, extent=0.5, road=0.22, ring=0.34, width=0.14)
    icon = Image.new("RGBA", (size, size), (*WHITE, 0))
    icon.putalpha(mask)
    return icon


def main(out_dir: Path = HERE) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    color_icon().save(out_dir / "color.png", optimize=True)
    outline_icon().save(out_dir / "outline.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
