"""The daily report's and run health's costs (issue 22), measured side by side.

Usage: python bench/bench_report_health.py [--stocks 5000] [--reps 2] [--report-reps 7]
                                           [--only report|import|sampler|year] [--keep]
                                           [--cache DIR]

1. report: one day of the demo market at `--stocks`, after 61 stored sessions (the chart of
   the top names reads 60): `publish_report` (read, tables, HTML, write) and the UI preview
   (PNG + markdown) in-process, `--report-reps` times, after one warm-up; then
   `stockmonitor report --date D` as a fresh process (imports included).
2. import: `python -c "import stockmonitor_assets.definitions"` of this checkout beside
   main's (exported with `git archive main`), interleaved, 7 times each.
3. sampler: the cost of one run-health sample (process CPU time and RSS), in-process.
4. year: `dagster asset materialize` over 2024 on the embedded instance, three variants
   interleaved `--reps` times: every asset with run health on (the default), every asset
   with STOCKMONITOR_RUN_HEALTH=off, and every asset but daily_report with health off (what
   the report adds to a range run: one more asset's materialization per partition). The
   direct cost of health is also read from the run's own log line ("recorded in X s").
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import (
    BIN,
    MODULE,
    REPO,
    Workspace,
    load,
    median,
    print_machine,
    rotations,
    run_child,
    scratch,
    table,
)

HISTORY = "2024-09-02...2024-12-02"
REPORT_DAY = "2024-12-02"
YEAR = "2024-01-02...2024-12-31"
ALL_BUT_REPORT = (
    "instruments,raw_ohlcv,completed_ohlcv,fundamentals,technical_indicators,"
    "fundamental_indicators,merged,scores,scores_table"
)
RECORDED = re.compile(r"(\d+) samples, recorded in ([\d.]+) s")


def bench_report(root: Path, stocks: int, reps: int) -> None:
    ws = Workspace(root, "report", stocks, "sqlite", operator=True)
    print(f"storing {HISTORY} at {stocks} stocks (untimed)", flush=True)
    ws.materialize(HISTORY)
    code = f"""
import datetime as dt, json, time
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.report.build import publish_report
from stockmonitor_assets.report.preview import preview_markdown
store, day = PartitionStore({str(ws.data)!r}), dt.date.fromisoformat({REPORT_DAY!r})
times = []
for rep in range({reps} + 1):
    t0 = time.perf_counter(); p = publish_report(store, day); t1 = time.perf_counter()
    md = preview_markdown(p.report, str(p.path)); t2 = time.perf_counter()
    times.append((t1 - t0, t2 - t1))
print(json.dumps({{"times": times[1:], "stocks": p.report.breadth["stocks"],
                   "html_kb": len(p.html) / 1024, "preview_kb": len(md) / 1024}}))
"""
    import json

    out = subprocess.run(
        [sys.executable, "-c", code], env=ws.env, capture_output=True, text=True, check=True
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    publish = [t[0] for t in facts["times"]]
    preview = [t[1] for t in facts["times"]]
    total = [a + b for a, b in facts["times"]]
    cold = []
    for _ in range(3):
        (ws.data / "reports" / f"{REPORT_DAY}.html").unlink(missing_ok=True)
        wall, _, _ = run_child([str(BIN / "stockmonitor"), "report", "--date", REPORT_DAY], ws.env)
        cold.append(wall)
    print(f"\n### report of {REPORT_DAY}, {facts['stocks']:,} stocks (load {load()})")
    print(table(
        ["what", "median s", "min", "max"],
        [
            ["publish_report (read, tables, HTML, write)", *_stats(publish)],
            ["UI preview (PNG + markdown)", *_stats(preview)],
            ["asset work (both)", *_stats(total)],
            ["`stockmonitor report --date D`, fresh process", *_stats(cold)],
        ],
    ))  # fmt: skip
    print(f"HTML {facts['html_kb']:.0f} KiB, preview metadata {facts['preview_kb']:.0f} KiB")


def bench_import(root: Path) -> None:
    main_tree = root / "main_tree"
    main_tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "main"], capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(main_tree)], input=archive.stdout, check=True)
    code = "import stockmonitor_assets.definitions as d, sys; print(d.__file__)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DB_"))}
    trees = {"main": main_tree, "this branch": REPO}
    walls: dict[str, list[float]] = {name: [] for name in trees}
    for _, name in rotations(list(trees), 7):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=trees[name], env=env, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        walls[name].append(time.perf_counter() - start)
        assert out.stdout.strip().startswith(str(trees[name])), out.stdout
    probe = [sys.executable, "-c", "import sys; import stockmonitor_assets.definitions; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('PIL', 'matplotlib', 'psutil')))"]  # fmt: skip
    heavy = subprocess.run(probe, cwd=REPO, env=env, capture_output=True, text=True).stdout
    print(f"\n### code location import (load {load()})")
    print(table(["tree", "median s", "min", "max"], [[n, *_stats(w)] for n, w in walls.items()]))
    print(f"ratio this branch / main: {median(walls['this branch']) / median(walls['main']):.3f}")
    print(f"plotting modules loaded by the import: {heavy.strip()}")
    shares = [_new_module_share(env) for _ in range(5)]
    print(
        "share of the import spent in this branch's new modules (-X importtime, same process): "
        f"median {median([s for s, _ in shares]):.1%} "
        f"({', '.join(f'{ms:.0f} ms' for _, ms in shares)})"
    )


NEW_MODULES = (
    "stockmonitor_assets.health",
    "stockmonitor_assets.assets.report",
    "stockmonitor_assets.pngchart",
)


def _new_module_share(env: dict[str, str]) -> tuple[float, float]:
    """(share of the definitions' import, ms): self times of the new modules, one process."""
    probe = [sys.executable, "-X", "importtime", "-c", "import stockmonitor_assets.definitions"]
    err = subprocess.run(probe, cwd=REPO, env=env, capture_output=True, text=True).stderr
    total = added = 0
    for line in err.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        own, cumulative, name = int(parts[0]), int(parts[1]), parts[2]
        if name == "stockmonitor_assets.definitions":
            total = cumulative
        if any(name == m or name.startswith(m + ".") for m in NEW_MODULES):
            added += own
    return added / total, added / 1000


def bench_year(root: Path, stocks: int, reps: int) -> None:
    variants = {
        "all assets, health on": ({}, "*"),
        "all assets, health off": ({"STOCKMONITOR_RUN_HEALTH": "off"}, "*"),
        "all but daily_report, health off": ({"STOCKMONITOR_RUN_HEALTH": "off"}, ALL_BUT_REPORT),
    }
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for rep, name in rotations(list(variants), reps):
        number = list(variants).index(name)
        ws = Workspace(root, f"year_{rep}_{number}", stocks, "sqlite", operator=True)
        extra, select = variants[name]
        argv = [str(BIN / "dagster"), "asset", "materialize", "-m", MODULE]
        argv += ["--select", select, "--partition-range", YEAR]
        before = load()
        wall, rss, cpu = run_child(argv, {**ws.env, **extra}, ws.log(1), ws.dir)
        log = ws.dir / "logs" / "stockmonitor.log"
        found = RECORDED.search(log.read_text()) if log.exists() else None
        row = {"wall": wall, "rss": rss, "cpu": cpu, "load": before,
               "samples": int(found.group(1)) if found else 0,
               "recorded_s": float(found.group(2)) if found else 0.0}  # fmt: skip
        results[name].append(row)
        print(f"rep {rep} {name}: {row}", flush=True)
        ws.close()
    print(f"\n### year 2024, {stocks:,} stocks, `dagster asset materialize` (embedded instance)")
    base = median([r["wall"] for r in results["all assets, health off"]])
    rows = []
    for name, runs in results.items():
        wall = median([r["wall"] for r in runs])
        rows.append([
            name, f"{wall:.1f}", f"{median([r['cpu'] for r in runs]):.1f}",
            f"{wall / base:.3f}", " / ".join(f"{r['wall']:.1f}" for r in runs),
            " / ".join(r["load"] for r in runs),
            f"{median([r['recorded_s'] for r in runs]):.3f}",
        ])  # fmt: skip
    print(table(["variant", "wall s (median)", "CPU s", "vs health off", "walls", "loads",
                 "health recording s"], rows))  # fmt: skip


def bench_sampler() -> None:
    """The run-health sampler's own cost: one sample (process CPU, RSS from /proc)."""
    from stockmonitor_assets.health.probe import SAMPLE_S, Probe

    probe, n = Probe("bench"), 5000
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        probe.sample()
    wall, cpu = (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n
    print(f"\n### sampler: {wall * 1e6:.0f} us wall, {cpu * 1e6:.1f} us CPU per sample; "
          f"every {SAMPLE_S} s that is {cpu / SAMPLE_S:.4%} of one core")  # fmt: skip


def _stats(values: list[float]) -> list[str]:
    return [f"{statistics.median(values):.3f}", f"{min(values):.3f}", f"{max(values):.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--report-reps", type=int, default=7)
    parser.add_argument("--only", choices=["report", "import", "sampler", "year"])
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--cache", help="a CACHE_DIR holding the demo years (copied; else cold)")
    args = parser.parse_args()
    print_machine()
    with scratch("bench-report-health-", keep=args.keep) as root:
        if args.cache:  # workspaces share root/cache: the demo years simulated once
            shutil.copytree(args.cache, root / "cache")
        if args.only in (None, "import"):
            bench_import(root)
        if args.only in (None, "sampler"):
            bench_sampler()
        if args.only in (None, "report"):
            bench_report(root, args.stocks, args.report_reps)
        if args.only in (None, "year"):
            bench_year(root, args.stocks, args.reps)


if __name__ == "__main__":
    main()
