"""The daily report: what a range run reports, that a re-run writes the same page, and that
the page renders in headless Chromium with every section, chart and Chinese label.

A range run renders its last day only (a whole-history backfill would otherwise render
5,319 pages); the other days say so in their metadata and render on demand."""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets.assets import report
from stockmonitor_assets.report.page import GENERATED_AT_MARK, SECTIONS
from stockmonitor_assets.schemas import LEVELS
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.clean_run import ASSETS
from stockmonitor_assets_tests.conftest import DEMO_CACHE, Pipeline

REPO = Path(__file__).resolve().parents[1]
FIRST, LAST = "2024-05-20", "2024-06-07"
SCREENSHOT_TOOL = Path(
    os.environ.get("STOCKMONITOR_SCREENSHOT_TOOL", REPO.parent / "shared/tools/ui_screenshot.py")
)
# Named timestamps: the only text of a page that is not a function of the stored data.
STAMPS = (
    re.compile(rf'<meta name="{GENERATED_AT_MARK}" content="[^"]*">'),
    re.compile(r" · generated [^<]*</p>"),
)


@functools.cache
def range_run() -> tuple[Pipeline, dg.ExecuteInProcessResult]:
    """Every asset, the report included, over FIRST..LAST of a 120-stock demo market."""
    data_dir = Path(tempfile.mkdtemp(prefix="stockmonitor-report-"))
    pipeline = Pipeline(
        data_dir,
        DemoMarket(cache_dir=DEMO_CACHE, seed=7, universe_size=120),
        dg.DagsterInstance.ephemeral(),
    )
    return pipeline, pipeline.materialize([*ASSETS, report.daily_report], FIRST, LAST)


def report_events(result) -> dict[str, dict]:
    return {e.partition: e.metadata for e in result.asset_materializations_for_node("daily_report")}


def without_stamps(html: str) -> str:
    for stamp in STAMPS:
        html, found = stamp.subn("", html)
        assert found == 1, f"timestamp {stamp.pattern} not found exactly once"
    return html


def test_a_range_run_renders_its_last_day_and_says_so_for_the_others():
    pipeline, result = range_run()
    days = pipeline.keys("scores")
    assert result.success and len(days) == 15
    assert sorted(p.name for p in (pipeline.data_dir / "reports").iterdir()) == [f"{LAST}.html"]
    events = report_events(result)
    assert sorted(events) == days
    last = events[LAST]
    assert last["rendered"].value is True
    assert last["path"].value == str(pipeline.data_dir / "reports" / f"{LAST}.html")
    preview = last["preview"].value
    assert preview.startswith("![main chart](data:image/png;base64,") and "| 1 |" in preview
    assert last["dagster/row_count"].value == len(pipeline.read("merged", LAST))
    for day in days[:-1]:
        assert events[day]["rendered"].value is False
        assert f"stockmonitor report --date {day}" in events[day]["report"].value


def test_a_re_run_writes_the_same_page_apart_from_its_timestamps():
    pipeline, _ = range_run()
    path = pipeline.data_dir / "reports" / f"{LAST}.html"
    first = path.read_text()
    again = pipeline.materialize([report.daily_report], LAST)
    assert again.success
    second = path.read_text()
    # Equal once the named timestamps are taken out (each found exactly once); the
    # timestamps themselves move with the clock (they may match within one second).
    assert without_stamps(first) == without_stamps(second)


def test_the_report_names_each_section_and_the_day_s_top_stock():
    pipeline, _ = range_run()
    html = (pipeline.data_dir / "reports" / f"{LAST}.html").read_text()
    scores = pipeline.read("scores", LAST)
    merged = pipeline.read("merged", LAST)
    best = scores.filter(pl.col("rank") == 1)["order_book_id"].item()
    symbol = merged.filter(pl.col("order_book_id") == best)["symbol"].item()
    for section, _ in SECTIONS:
        assert f'<section id="{section}">' in html
    assert best in html and symbol in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


# The probe appends what the page drew (per chart: section, drawn shapes, size) and whether
# Chinese text rendered with real glyphs (a missing font draws the same box for every one).
PROBE = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(s => {
    const shapes = [...s.querySelectorAll('rect, path')].filter(e => {
      const b = e.getBBox(); return b.width > 0 || b.height > 0; }).length;
    const r = s.getBoundingClientRect();
    return {section: s.closest('section') ? s.closest('section').id : '', shapes,
            width: r.width, height: r.height};
  });
  const glyph = ch => { const c = document.createElement('canvas'); c.width = c.height = 40;
    const x = c.getContext('2d');
    x.font = '32px ' + getComputedStyle(document.body).fontFamily;
    x.fillText(ch, 2, 34); return c.toDataURL(); };
  const chars = ['强', '势', '股', '涨'];
  const cjk = new Set(chars.map(glyph)).size === chars.length;
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = 'PROBE' + JSON.stringify({charts, cjk,
    sections: [...document.querySelectorAll('section')].map(s => s.id)});
  document.body.prepend(pre);
})()"""


def test_the_page_renders_in_headless_chromium_with_every_chart_and_chinese_labels(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run does)")
    if not SCREENSHOT_TOOL.exists():
        pytest.skip(f"{SCREENSHOT_TOOL} not found (set STOCKMONITOR_SCREENSHOT_TOOL)")
    pipeline, _ = range_run()
    url = (pipeline.data_dir / "reports" / f"{LAST}.html").as_uri()
    shot, probed = tmp_path / "daily_report.png", tmp_path / "probe.png"
    jobs = [
        {"url": url, "path": str(shot), "wait": 2},
        {"url": url, "path": str(probed), "wait": 2, "js": [PROBE]},
    ]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run(
        [sys.executable, str(SCREENSHOT_TOOL), "--jobs", str(tmp_path / "jobs.json")],
        check=True, timeout=180, capture_output=True,
    )  # fmt: skip
    text = (tmp_path / "probe.txt").read_text()
    found = json.loads(text.split("PROBE", 1)[1].split("\n", 1)[0])
    assert found["sections"] == [s for s, _ in SECTIONS]
    drawn = {c["section"] for c in found["charts"] if c["shapes"] > 0 and c["width"] > 0}
    assert drawn == {"breadth", "scores", "coverage", "boards", "history"}
    assert all(c["shapes"] > 0 for c in found["charts"]), found["charts"]
    assert len([c for c in found["charts"] if c["section"] == "history"]) == 6
    assert found["cjk"], "Chinese labels drew as missing-glyph boxes (install fonts-noto-cjk)"
    for label in (*LEVELS, "市场宽度", "涨停", "主板", "创业板", "科创板", "北交所"):
        assert label in text
    _assert_not_blank(shot)
    if os.environ.get("STOCKMONITOR_SAVE_SCREENSHOTS"):
        shutil.copy(shot, REPO / "docs" / "screenshots" / "daily_report_demo.png")


def _assert_not_blank(path: Path) -> None:
    from PIL import Image

    colors = Image.open(path).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 50, "the screenshot is (nearly) blank"
