"""Inline SVG charts of the report: a few plain shapes, deterministic output, no script.

Text uses the page's font stack (report/page.py), so Chinese labels render with whatever CJK
font the reader has ("Noto Sans CJK SC" first).
"""

from collections.abc import Sequence
from html import escape

LEVEL_COLORS = ("#c0392b", "#e67e22", "#7f8c8d", "#2980b9", "#27ae60")  # 强势 .. 高风险
UP, DOWN, FLAT = "#d63031", "#00a65a", "#b2bec3"  # A-share convention: red up, green down
NEUTRAL = "#34495e"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(
    x: float, y: float, label: str, anchor: str = "middle", size: int = 11, cls: str = ""
) -> str:
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{size}"{klass}>'
        f"{escape(label)}</text>"
    )


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def column_chart(
    labels: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    title: str,
    width: int = 560,
    height: int = 220,
    label_every: int = 1,
) -> str:
    """Vertical bars, one per label, value printed above each non-zero bar."""
    left, bottom, top = 10, 24, 18
    plot_h = height - bottom - top
    step = (width - 2 * left) / max(len(values), 1)
    peak = max([*values, 1])
    body = []
    for i, (label, value, color) in enumerate(zip(labels, values, colors, strict=True)):
        h = plot_h * value / peak
        x = left + i * step
        body.append(
            f'<rect x="{_num(x + 1)}" y="{_num(top + plot_h - h)}" width="{_num(step - 2)}" '
            f'height="{_num(h)}" fill="{color}">'
            f"<title>{escape(label)}: {_num(value)}</title></rect>"
        )
        if value:
            body.append(_text(x + step / 2, top + plot_h - h - 3, _num(value), size=9))
        if i % label_every == 0:
            body.append(_text(x + step / 2, height - 8, label, size=10))
    return _svg(width, height, body, title)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    title: str,
    width: int = 420,
    value_format: str = "{:,.0f}",
) -> str:
    """Horizontal bars with their labels on the left and values on the right."""
    row, label_w, value_w = 22, 90, 70
    height = row * len(values) + 8
    peak = max([*values, 1e-12])
    body = []
    for i, (label, value, color) in enumerate(zip(labels, values, colors, strict=True)):
        y = 4 + i * row
        w = (width - label_w - value_w) * value / peak
        body.append(_text(label_w - 6, y + 15, label, anchor="end"))
        body.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{_num(w)}" height="{row - 6}" fill="{color}">'
            f"<title>{escape(label)}: {escape(value_format.format(value))}</title></rect>"
        )
        body.append(_text(label_w + w + 4, y + 15, value_format.format(value), anchor="start"))
    return _svg(width, height, body, title)


def stacked_bar(parts: Sequence[tuple[str, int, str]], title: str, width: int = 760) -> str:
    """One 100 % bar split into labelled parts (label, count, color)."""
    height, total = 54, sum(count for _, count, _ in parts) or 1
    x, body = 0.0, []
    for label, count, color in parts:
        w = width * count / total
        body.append(
            f'<rect x="{_num(x)}" y="4" width="{_num(w)}" height="26" fill="{color}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if w > 60:
            body.append(_text(x + w / 2, 48, f"{label} {count:,}"))
        x += w
    return _svg(width, height, body, title)


def grouped_columns(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    title: str,
    width: int = 420,
    height: int = 220,
) -> str:
    """Columns per group, one per series (name, values, color), with a legend on top."""
    left, bottom, top = 10, 24, 30
    plot_h = height - bottom - top
    group_w = (width - 2 * left) / max(len(groups), 1)
    bar_w = (group_w - 12) / max(len(series), 1)
    peak = max([v for _, values, _ in series for v in values] + [1])
    body = []
    for s, (name, _, color) in enumerate(series):
        body.append(f'<rect x="{left + s * 90}" y="6" width="10" height="10" fill="{color}"/>')
        body.append(_text(left + s * 90 + 14, 15, name, anchor="start"))
    for g, group in enumerate(groups):
        x0 = left + g * group_w + 6
        for s, (name, values, color) in enumerate(series):
            h = plot_h * values[g] / peak
            x = x0 + s * bar_w
            body.append(
                f'<rect x="{_num(x)}" y="{_num(top + plot_h - h)}" width="{_num(bar_w - 1)}" '
                f'height="{_num(h)}" fill="{color}"><title>{escape(group)} {escape(name)}: '
                f"{_num(values[g])}</title></rect>"
            )
        body.append(_text(x0 + (group_w - 12) / 2, height - 8, group))
    return _svg(width, height, body, title)


def dual_line_chart(
    dates: Sequence[str],
    left_values: Sequence[float | None],
    right_values: Sequence[float | None],
    title: str,
    width: int = 360,
    height: int = 150,
) -> str:
    """Two lines over the same dates: close (left axis, dark) and score 0-100 (right, red)."""
    pad_l, pad_r, pad_t, pad_b = 40, 30, 20, 20
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    known = [v for v in left_values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    span = (high - low) or 1.0

    def x_at(i: int) -> float:
        return pad_l + plot_w * i / max(len(dates) - 1, 1)

    def path(values, y_of, color: str, cls: str) -> str:
        points, pen = [], "M"
        for i, v in enumerate(values):
            if v is None:
                pen = "M"
                continue
            points.append(f"{pen}{_num(x_at(i))},{_num(y_of(v))}")
            pen = "L"
        d = " ".join(points)
        return f'<path class="{cls}" d="{d}" fill="none" stroke="{color}" stroke-width="1.5"/>'

    body = [
        _text(width / 2, 13, title, size=12),
        f'<rect x="{pad_l}" y="{pad_t}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#dfe6e9"/>',
        path(left_values, lambda v: pad_t + plot_h * (1 - (v - low) / span), NEUTRAL, "close-line"),
        path(right_values, lambda v: pad_t + plot_h * (1 - v / 100), UP, "score-line"),
        _text(pad_l - 3, pad_t + 8, f"{high:.2f}", anchor="end", size=9),
        _text(pad_l - 3, pad_t + plot_h, f"{low:.2f}", anchor="end", size=9),
        _text(width - pad_r + 3, pad_t + 8, "100", anchor="start", size=9),
        _text(width - pad_r + 3, pad_t + plot_h, "0", anchor="start", size=9),
    ]
    if dates:
        body.append(_text(pad_l, height - 5, dates[0], anchor="start", size=9))
        body.append(_text(pad_l + plot_w, height - 5, dates[-1], anchor="end", size=9))
    return _svg(width, height, body, title)
