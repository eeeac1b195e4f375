"""The report's preview in the Dagster UI: the main chart as a small PNG (data URI) in
markdown, beside the top table and the file's path. Kept small: it is stored in the event
log with the partition's materialization.

Drawn with Pillow (imported here only, when a preview is drawn): two bar charts need no
plotting library, and matplotlib's import alone took longer than the whole report. Chinese
labels need a CJK font on the drawing machine (Debian: fonts-noto-cjk, which
deploy/Dockerfile installs); without one the labels fall back to English and a warning says
why.
"""

import base64
import io
import logging
from functools import cache

from stockmonitor_assets.report import svg
from stockmonitor_assets.report.page import BOARD_NAMES
from stockmonitor_assets.schemas import LEVELS
from stockmonitor_assets.transforms.report import DailyReport

# (font file, face index): Pillow finds the file in the system font folders. Index 2 of
# Noto's collection is its Simplified Chinese face.
CJK_FONTS = (
    ("NotoSansCJK-Regular.ttc", 2),
    ("NotoSansCJKsc-Regular.otf", 0),
    ("NotoSansSC-Regular.otf", 0),
    ("wqy-zenhei.ttc", 0),
)
LEVEL_NAMES_EN = dict(
    zip(LEVELS, ("strong", "potential", "range", "weak", "high risk"), strict=True)
)
BOARD_NAMES_EN = dict(zip(BOARD_NAMES.values(), ("main", "ChiNext", "STAR", "BSE"), strict=True))
WIDTH, HEIGHT = 760, 230
AXIS, TEXT = "#b2bec3", "#2d3436"
log = logging.getLogger(__name__)


@cache
def _font(size: int):
    """(font, has CJK glyphs): the first CJK font found, else Pillow's own (Latin only)."""
    from PIL import ImageFont

    for name, index in CJK_FONTS:
        try:
            return ImageFont.truetype(name, size, index=index), True
        except OSError:
            continue
    log.warning("no CJK font found (install fonts-noto-cjk); preview labels in English")
    return ImageFont.load_default(size), False


def main_chart_png(report: DailyReport) -> bytes:
    """Score distribution coloured by level, and advancers/decliners per board."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, cjk = _font(12)
    h = report.histogram
    _columns(
        draw,
        font,
        box=(30, 40, 450, 200),
        values=[[v] for v in h["stocks"]],
        colors=[[svg.LEVEL_COLORS[LEVELS.index(x)]] for x in h["level"]],
        labels=[str(s) if s % 20 == 0 else "" for s in h["bin_start"]],
    )
    draw.text(
        (30, 6),
        f"{report.day} 评分分布 score distribution" if cjk else f"{report.day} score distribution",
        font=font,
        fill=TEXT,
    )
    x = 30
    for name, color in zip(LEVELS, svg.LEVEL_COLORS, strict=True):
        label = name if cjk else LEVEL_NAMES_EN[name]
        draw.rectangle((x, 24, x + 9, 33), fill=color)
        draw.text((x + 12, 21), label, font=font, fill=TEXT)
        x += 14 + int(draw.textlength(label, font=font)) + 10
    b = report.boards
    boards = [BOARD_NAMES[v] if cjk else BOARD_NAMES_EN[BOARD_NAMES[v]] for v in b["board"]]
    _columns(
        draw,
        font,
        box=(490, 40, 740, 200),
        values=list(zip(b["advancers"], b["decliners"], strict=True)),
        colors=[[svg.UP, svg.DOWN]] * len(boards),
        labels=boards,
    )
    draw.text(
        (490, 6),
        "各板块涨跌 up / down by board" if cjk else "up / down by board",
        font=font,
        fill=TEXT,
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _columns(draw, font, box, values, colors, labels) -> None:
    """Groups of columns in `box` (left, top, right, bottom), labelled under each group."""
    left, top, right, bottom = box
    peak = max([v for group in values for v in group] + [1])
    group_w = (right - left) / len(values)
    draw.line((left, bottom, right, bottom), fill=AXIS)
    draw.text((left - 4, top), f"{peak:,}", font=font, fill=TEXT, anchor="rt")
    for g, (group, group_colors, label) in enumerate(zip(values, colors, labels, strict=True)):
        bar_w = (group_w - 4) / len(group)
        for i, (value, color) in enumerate(zip(group, group_colors, strict=True)):
            x = left + g * group_w + 2 + i * bar_w
            y = bottom - (bottom - top) * value / peak
            if value:
                draw.rectangle((x, y, x + bar_w - 1, bottom), fill=color)
        if label:
            draw.text(
                (left + g * group_w + group_w / 2, bottom + 4),
                label,
                font=font,
                fill=TEXT,
                anchor="mt",
            )


def preview_markdown(report: DailyReport, path: str, top_n: int = 10) -> str:
    """Markdown for the UI: the chart, breadth in one line, the top table, the file's path."""
    png = base64.b64encode(main_chart_png(report)).decode("ascii")
    b = report.breadth
    line = (
        f"**{report.day}** · {b['stocks']:,} stocks · up {b['advancers']:,} / down "
        f"{b['decliners']:,} · limit-up {b['limit_up']} / limit-down {b['limit_down']} · "
        f"suspended {b['suspended']} · newly listed {b['newly_listed']}"
    )
    return (
        f"![main chart](data:image/png;base64,{png})\n\n{line}\n\n"
        f"{top_table_markdown(report, top_n)}\n\nFull report: `{path}`"
    )


def top_table_markdown(report: DailyReport, n: int = 10) -> str:
    """The day's `n` best as a markdown table (with names and level labels)."""
    columns = ["rank", "order_book_id", "symbol", "score", "level", "pct_change"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in report.top.head(n).iter_rows(named=True):
        change = "–" if row["pct_change"] is None else f"{row['pct_change']:+.2%}"
        lines.append(
            f"| {row['rank']} | {row['order_book_id']} | {row['symbol'] or ''} | "
            f"{row['score']:.1f} | {row['level']} | {change} |"
        )
    return "\n".join(lines)
