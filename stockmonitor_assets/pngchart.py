"""Small PNG charts for Dagster UI previews (markdown images), drawn with Pillow.

Pillow is imported when a chart is drawn, never when the code location loads. A few bars
and lines need no plotting library (matplotlib's import alone took longer than the whole
daily report). Chinese labels need a CJK font on the drawing machine (Debian: fonts-noto-cjk,
which deploy/Dockerfile installs); `font()` says whether one was found, so callers can fall
back to English labels, and logs a warning once when none is.
"""

import io
import logging
from collections.abc import Sequence
from functools import cache

# (font file, face index): Pillow finds the file in the system font folders. Index 2 of
# Noto's collection is its Simplified Chinese face.
CJK_FONTS = (
    ("NotoSansCJK-Regular.ttc", 2),
    ("NotoSansCJKsc-Regular.otf", 0),
    ("NotoSansSC-Regular.otf", 0),
    ("wqy-zenhei.ttc", 0),
)
AXIS, TEXT = "#b2bec3", "#2d3436"
log = logging.getLogger(__name__)


@cache
def font(size: int = 12):
    """(font, has CJK glyphs): the first CJK font found, else Pillow's own (Latin only)."""
    from PIL import ImageFont

    face = _cjk_face()
    if face is None:
        return ImageFont.load_default(size), False
    name, index = face
    return ImageFont.truetype(name, size, index=index), True


@cache
def _cjk_face():
    """(font, index) of the first CJK font found, or None (warned once): each size of
    `font` would search the system font folders again, and warn again."""
    from PIL import ImageFont

    for name, index in CJK_FONTS:
        try:
            ImageFont.truetype(name, 12, index=index)
            return name, index
        except OSError:
            continue
    log.warning("no CJK font found (install fonts-noto-cjk); chart labels in English")
    return None


def canvas(width: int, height: int):
    """A white image and its drawing context."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "white")
    return image, ImageDraw.Draw(image)


def png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def columns(
    draw,
    box: tuple[float, float, float, float],
    values: Sequence[Sequence[float]],
    colors: Sequence[Sequence[str]],
    labels: Sequence[str],
    title: str = "",
    value_format: str = "{:,.0f}",
) -> None:
    """Groups of columns in `box` (left, top, right, bottom), a label under each group."""
    text_font, _ = font()
    left, top, right, bottom = box
    peak = max([v for group in values for v in group if v is not None] + [0]) or 1
    group_w = (right - left) / max(len(values), 1)
    draw.line((left, bottom, right, bottom), fill=AXIS)
    draw.text((left - 4, top), value_format.format(peak), font=text_font, fill=TEXT, anchor="rt")
    if title:
        draw.text((left, top - 18), title, font=text_font, fill=TEXT)
    for g, (group, group_colors, label) in enumerate(zip(values, colors, labels, strict=True)):
        bar_w = max((group_w - 2) / max(len(group), 1), 1)
        for i, (value, color) in enumerate(zip(group, group_colors, strict=True)):
            if not value:
                continue
            x = left + g * group_w + 1 + i * bar_w
            y = bottom - (bottom - top) * value / peak
            draw.rectangle((x, y, x + max(bar_w - 1, 1), bottom), fill=color)
        if label:
            draw.text(
                (left + g * group_w + group_w / 2, bottom + 4),
                label,
                font=text_font,
                fill=TEXT,
                anchor="mt",
            )


def line(
    draw,
    box: tuple[float, float, float, float],
    values: Sequence[float | None],
    color: str,
    high: float,
    title: str = "",
    high_label: str = "",
) -> None:
    """A line of `values` from 0 (bottom of `box`) to `high` (top), gaps at None."""
    text_font, _ = font()
    left, top, right, bottom = box
    draw.line((left, bottom, right, bottom), fill=AXIS)
    draw.text((left - 4, top), high_label or f"{high:g}", font=text_font, fill=TEXT, anchor="rt")
    if title:
        draw.text((left, top - 18), title, font=text_font, fill=TEXT)
    step = (right - left) / max(len(values) - 1, 1)
    points = []
    for i, v in enumerate(values):
        if v is None:
            if len(points) > 1:
                draw.line(points, fill=color, width=2)
            points = []
            continue
        points.append((left + i * step, bottom - (bottom - top) * min(v / high, 1.0)))
    if len(points) > 1:
        draw.line(points, fill=color, width=2)
    for x, y in points[-1:]:
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=color)
