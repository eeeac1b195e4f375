"""The report's preview in the Dagster UI: the main chart as a small PNG (data URI) in
markdown, beside the top table and the file's path. Kept small: it is stored in the event
log with the partition's materialization. Drawn by `pngchart` (Pillow, imported on use).
"""

import base64

from stockmonitor_assets import pngchart
from stockmonitor_assets.report import svg
from stockmonitor_assets.report.page import BOARD_NAMES
from stockmonitor_assets.schemas import LEVELS
from stockmonitor_assets.transforms.report import DailyReport

LEVEL_NAMES_EN = dict(
    zip(LEVELS, ("strong", "potential", "range", "weak", "high risk"), strict=True)
)
BOARD_NAMES_EN = dict(zip(BOARD_NAMES.values(), ("main", "ChiNext", "STAR", "BSE"), strict=True))
WIDTH, HEIGHT = 760, 230


def main_chart_png(report: DailyReport) -> bytes:
    """Score distribution coloured by level, and advancers/decliners per board."""
    image, draw = pngchart.canvas(WIDTH, HEIGHT)
    font, cjk = pngchart.font(12)
    h = report.histogram
    title = "评分分布 score distribution" if cjk else "score distribution"
    pngchart.columns(
        draw,
        (40, 44, 450, 200),
        values=[[v] for v in h["stocks"]],
        colors=[[svg.LEVEL_COLORS[LEVELS.index(x)]] for x in h["level"]],
        labels=[str(s) if s % 20 == 0 else "" for s in h["bin_start"]],
    )
    draw.text((40, 4), f"{report.day} {title}", font=font, fill=pngchart.TEXT)
    x = 40
    for name, color in zip(LEVELS, svg.LEVEL_COLORS, strict=True):
        label = name if cjk else LEVEL_NAMES_EN[name]
        draw.rectangle((x, 24, x + 9, 33), fill=color)
        draw.text((x + 12, 21), label, font=font, fill=pngchart.TEXT)
        x += 14 + int(draw.textlength(label, font=font)) + 10
    b = report.boards
    boards = [BOARD_NAMES[v] if cjk else BOARD_NAMES_EN[BOARD_NAMES[v]] for v in b["board"]]
    pngchart.columns(
        draw,
        (500, 44, 740, 200),
        values=list(zip(b["advancers"], b["decliners"], strict=True)),
        colors=[[svg.UP, svg.DOWN]] * len(boards),
        labels=boards,
        title="各板块涨跌 up / down by board" if cjk else "up / down by board",
    )
    return pngchart.png(image)


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
