"""The report as one HTML page: inline CSS and SVG, no script, no link to anything.

Everything on the page is a function of the stored data except `generated_at` (named in
GENERATED_AT_MARK), so rendering the same day twice gives the same bytes apart from it.
"""

from html import escape

import polars as pl

from stockmonitor_assets.report import svg
from stockmonitor_assets.schemas import BOARDS, LEVELS
from stockmonitor_assets.transforms.report import BREADTH_KEYS, DailyReport

FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", '
    '"Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif'
)
GENERATED_AT_MARK = "generated-at"
# (section id, heading); the page always has every one of them, in this order.
SECTIONS = (
    ("breadth", "市场宽度 Market breadth"),
    ("scores", "评分分布 Score distribution"),
    ("top", "评分最高 Top scores"),
    ("bottom", "评分最低 Bottom scores"),
    ("movers", "排名变动 Rank movers"),
    ("coverage", "因子覆盖 Factor coverage"),
    ("boards", "板块 Boards"),
    ("history", "60 日走势 Top names, last 60 sessions"),
)
BOARD_NAMES = dict(zip(BOARDS, ("主板", "创业板", "科创板", "北交所"), strict=True))
BREADTH_LABELS = {
    "stocks": "股票数 stocks",
    "traded": "交易 traded",
    "advancers": "上涨 advancers",
    "decliners": "下跌 decliners",
    "unchanged": "平盘 unchanged",
    "limit_up": "涨停 limit-up",
    "limit_down": "跌停 limit-down",
    "suspended": "停牌 suspended",
    "newly_listed": "新股 newly listed",
    "eligible": "参与评分 scored",
    "withheld": "数据暂扣 withheld",
}
CSS = f"""
body {{ font-family: {FONT_STACK}; margin: 24px auto; max-width: 1180px; color: #2d3436; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 17px; border-bottom: 1px solid
#dfe6e9; padding-bottom: 4px; margin-top: 28px; }}
section {{ margin-bottom: 12px; }} .row {{ display: flex; flex-wrap: wrap; gap: 24px;
align-items: flex-start; }}
table {{ border-collapse: collapse; font-size: 12px; }} th, td {{ padding: 3px 7px;
border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }}
th {{ background: #f5f6fa; }} td.t, th.t {{ text-align: left; }}
.up {{ color: {svg.UP}; }} .down {{ color: {svg.DOWN}; }} .muted {{ color: #95a5a6; }}
svg text {{ font-family: {FONT_STACK}; fill: #2d3436; }}
"""


def render_page(report: DailyReport, generated_at: str) -> str:
    """The whole page for `report`; `generated_at` is the only non-data text on it."""
    sections = {
        "breadth": _breadth(report),
        "scores": _scores(report),
        "top": _table(report.top, report.top.columns),
        "bottom": _table(report.bottom, report.bottom.columns),
        "movers": _movers(report),
        "coverage": _coverage(report),
        "boards": _boards(report),
        "history": _history(report),
    }
    body = "".join(
        f'<section id="{sid}"><h2>{escape(title)}</h2>{sections[sid]}</section>'
        for sid, title in SECTIONS
    )
    previous = f" · 对比上一交易日 {report.previous_day}" if report.previous_day else ""
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="{GENERATED_AT_MARK}" content="{escape(generated_at)}">'
        f"<title>A股日报 {report.day}</title><style>{CSS}</style></head><body>"
        f"<h1>A股每日市场报告 Daily market report · {report.day}</h1>"
        f'<p class="muted">stockmonitor{previous} · generated {escape(generated_at)}</p>'
        f"{body}</body></html>\n"
    )


def _breadth(report: DailyReport) -> str:
    b = report.breadth
    bar = svg.stacked_bar(
        [
            ("上涨", b["advancers"], svg.UP),
            ("平盘", b["unchanged"], svg.FLAT),
            ("下跌", b["decliners"], svg.DOWN),
            ("停牌", b["suspended"], "#dfe6e9"),
        ],
        "上涨 / 平盘 / 下跌 / 停牌",
    )
    cells = "".join(
        f'<tr><td class="t">{BREADTH_LABELS[k]}</td><td>{b[k]:,}</td></tr>' for k in BREADTH_KEYS
    )
    return f'<div class="row">{bar}<table>{cells}</table></div>'


def _scores(report: DailyReport) -> str:
    h = report.histogram
    colors = [svg.LEVEL_COLORS[LEVELS.index(level)] for level in h["level"]]
    histogram = svg.column_chart(
        [str(s) for s in h["bin_start"]],
        h["stocks"].to_list(),
        colors,
        "评分分布 (每 5 分)",
        label_every=2,
    )
    levels = svg.bar_chart(
        report.levels["level"].to_list(),
        report.levels["stocks"].to_list(),
        list(svg.LEVEL_COLORS),
        "等级分布",
    )
    return f'<div class="row">{histogram}{levels}</div>'


def _movers(report: DailyReport) -> str:
    if report.previous_day is None:
        return '<p class="muted">无上一交易日评分 (no previous session scored)</p>'
    columns = list(report.movers_up.columns)
    return (
        f'<div class="row"><div><h3>上升 climbers</h3>{_table(report.movers_up, columns)}</div>'
        f"<div><h3>下降 fallers</h3>{_table(report.movers_down, columns)}</div></div>"
    )


def _coverage(report: DailyReport) -> str:
    c = report.coverage
    shares = [0.0 if s is None else s for s in c["share"]]
    chart = svg.bar_chart(
        c["factor"].to_list(), shares, [svg.NEUTRAL] * len(c), "因子覆盖率", value_format="{:.1%}"
    )
    return f'<div class="row">{chart}{_table(c, c.columns)}</div>'


def _boards(report: DailyReport) -> str:
    b = report.boards
    names = [BOARD_NAMES[x] for x in b["board"]]
    chart = svg.grouped_columns(
        names,
        [
            ("上涨", b["advancers"].to_list(), svg.UP),
            ("下跌", b["decliners"].to_list(), svg.DOWN),
            ("涨停", b["limit_up"].to_list(), "#fd79a8"),
            ("跌停", b["limit_down"].to_list(), "#55efc4"),
        ],
        "各板块涨跌",
    )
    table = _table(b.with_columns(board=pl.Series(names)), b.columns)
    return f'<div class="row">{chart}{table}</div>'


def _history(report: DailyReport) -> str:
    if report.history.is_empty():
        return '<p class="muted">no scored stocks today</p>'
    charts = []
    for (code, symbol), g in report.history.group_by(
        ["order_book_id", "symbol"], maintain_order=True
    ):
        charts.append(
            svg.dual_line_chart(
                [str(d) for d in g["date"]],
                g["close_adj"].to_list(),
                g["score"].to_list(),
                f"{symbol or ''} {code}",
            )
        )
    legend = (
        f'<p class="muted"><span style="color:{svg.NEUTRAL}">━ 收盘价 (前复权) close, '
        "adjusted</span>"
        f' · <span style="color:{svg.UP}">━ 评分 score (0–100)</span></p>'
    )
    return legend + f'<div class="row">{"".join(charts)}</div>'


def _table(frame: pl.DataFrame, columns: list[str]) -> str:
    if frame.is_empty():
        return '<p class="muted">none</p>'
    head = "".join(f'<th class="{_align(frame, c)}">{escape(c)}</th>' for c in columns)
    rows = []
    for row in frame.select(columns).iter_rows(named=True):
        cells = "".join(
            f'<td class="{_align(frame, c)} {_tone(c, row[c])}">{_cell(c, row[c])}</td>'
            for c in columns
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _align(frame: pl.DataFrame, column: str) -> str:
    return "" if frame.schema[column].is_numeric() else "t"


def _tone(column: str, value: object) -> str:
    if column not in ("pct_change", "rank_change", "median_change") or value is None:
        return ""
    return "up" if value > 0 else "down" if value < 0 else ""


def _cell(column: str, value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if column in ("pct_change", "share", "median_change"):
            return f"{value:+.2%}" if column != "share" else f"{value:.1%}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))
