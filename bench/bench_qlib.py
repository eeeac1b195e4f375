"""What the qlib provider directory costs: a day after 1 vs 10 years stored, and in the pipeline.

Usage: python bench/bench_qlib.py layout [--stocks 5000] [--reps 5] [--json FILE]
       python bench/bench_qlib.py pipeline [--stocks 5000] [--json FILE]

`layout`: the writer alone (`qlib_store.QlibProvider.write_chunk`, the asset's only I/O) on
a provider holding 1 year (242 sessions) and one holding 10 years (2,426 sessions) of
5,000 stocks x the asset's 40 fields (200,000 feature files), both built by the same writer
in 250-day chunks. Then, side by side in alternating order, `reps` appends of one more day
to each (each append is timed alone; the history grows by one day per append). Reported:
build time, median append time, bytes per file. A day's cost must not grow with history.

`pipeline`: the command users run, `dagster asset materialize --select '*'` on the demo
market (benchlib.Workspace, embedded SQLite), year 2024 in one run then 2025-01-02 alone,
without the qlib asset (STOCKMONITOR_QLIB_DIR=off: the step logs "skipped", writes nothing)
and with it (default `<DATA_DIR>/qlib`), each from an empty DATA_DIR. Reported: wall, CPU,
peak RSS, and the qlib_provider step's own duration (steps run one after the other in
process, so that is what the asset adds).
"""

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from benchlib import Workspace, load, machine, median, print_machine, scratch, table

from stockmonitor_assets.qlib_store import QlibProvider
from stockmonitor_assets.trading_calendar import sessions
from stockmonitor_assets.transforms.qlib_fields import field_names

ALL_SESSIONS = sessions(dt.date(2014, 1, 2), dt.date(2025, 12, 31))
BUILD_CHUNK = 250


def codes(stocks: int) -> list[str]:
    return [f"SH{600000 + i}" for i in range(stocks)]


def day_frames(stocks: int, days: list[dt.date], rng: np.random.Generator) -> pl.DataFrame:
    fields = field_names()
    values = rng.random((stocks * len(days), len(fields)), dtype=np.float32)
    frame = pl.DataFrame(values, schema=fields)
    keys = pl.DataFrame(
        {
            "code": np.repeat(codes(stocks), len(days)),
            "date": np.tile(np.array(days, dtype="datetime64[D]"), stocks),
        }
    )
    return keys.hstack(frame)


def build(root: Path, stocks: int, days: list[dt.date], rng) -> float:
    provider, started = QlibProvider(root), time.perf_counter()
    for start in range(0, len(days), BUILD_CHUNK):
        chunk = days[start : start + BUILD_CHUNK]
        provider.write_chunk(day_frames(stocks, chunk, rng), chunk, ALL_SESSIONS)
    return time.perf_counter() - started


def _cpu() -> float:
    """User + system CPU of this process: the writer's own work, less sensitive to a busy
    machine than wall time (system time is where the file writes are)."""
    times = os.times()
    return times.user + times.system


def layout(args) -> dict:
    rng = np.random.default_rng(0)
    years = {"1 year": 242, "10 years": 2426}
    out: dict = {"machine": machine(), "stocks": args.stocks, "fields": len(field_names())}
    with scratch("bench-qlib-") as root:
        held = {}
        for name, n in years.items():
            held[name] = ALL_SESSIONS[:n]
            out[f"build {name} s"] = build(root / name, args.stocks, held[name], rng)
            print(f"built {name}: {out[f'build {name} s']:.1f} s", flush=True)
        appends = {name: [] for name in years}
        for rep in range(args.reps):
            for name in sorted(years, reverse=rep % 2 == 1):
                day = ALL_SESSIONS[len(held[name])]
                frame = day_frames(args.stocks, [day], rng)
                provider, before = QlibProvider(root / name), load()
                started, cpu = time.perf_counter(), _cpu()
                provider.write_chunk(frame, [day], ALL_SESSIONS)
                appends[name].append((time.perf_counter() - started, _cpu() - cpu, before))
                held[name].append(day)
                wall, used, _ = appends[name][-1]
                print(f"append to {name}: {wall:.3f} s wall, {used:.3f} s cpu (load {before})")
        for name in years:
            out[f"append {name} s"] = [t for t, _, _ in appends[name]]
            out[f"append {name} cpu s"] = [c for _, c, _ in appends[name]]
            out[f"append {name} median s"] = median([t for t, _, _ in appends[name]])
            out[f"append {name} median cpu s"] = median([c for _, c, _ in appends[name]])
            sample = next((root / name / "features").iterdir()) / "close.day.bin"
            out[f"bytes per file {name}"] = sample.stat().st_size
    ratio = out["append 10 years median s"] / out["append 1 year median s"]
    out["ratio 10y / 1y"] = ratio
    rows = [
        [name, f"{out[f'build {name} s']:.1f}", f"{out[f'append {name} median s']:.3f}",
         f"{out[f'append {name} median cpu s']:.3f}", out[f"bytes per file {name}"]]
        for name in years
    ]  # fmt: skip
    header = ["history", "build s", "append median s", "append median cpu s", "bytes/file"]
    print(table(header, rows))
    print(f"10 years / 1 year: {ratio:.2f}x")
    return out


def pipeline(args) -> dict:
    out: dict = {"machine": machine(), "stocks": args.stocks}
    # "without" first: it fills the shared demo-market cache, so "with" is not charged for
    # it; the added cost is read from the qlib_provider step's own duration anyway.
    variants = {"without qlib": {"STOCKMONITOR_QLIB_DIR": "off"}, "with qlib": {}}
    root = Path(tempfile.mkdtemp(prefix="bench-qlib-pipeline-"))
    for name, env in variants.items():
        ws = Workspace(root, name.replace(" ", "-"), args.stocks, "sqlite", False)
        try:
            for label, span in (("year", "2024-01-02...2024-12-31"), ("day", "2025-01-02")):
                result = {**ws.materialize(span, env=env), **ws.last_run()}
                out[f"{name} {label}"] = result
                steps = result.get("steps", {})
                print(
                    f"{name} {label}: wall {result['wall']:.1f} s, cpu {result['cpu']:.1f} s, "
                    f"rss {result['rss_mib']:.0f} MiB, qlib step {steps.get('qlib_provider')}, "
                    f"load {result['load']}",
                    flush=True,
                )
        finally:
            ws.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["layout", "pipeline"])
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print_machine()
    out = layout(args) if args.part == "layout" else pipeline(args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
