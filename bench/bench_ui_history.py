"""The whole history as one UI backfill: wall, memory, progress, and the UI afterwards.

Usage: python bench/bench_ui_history.py [--stocks 5000] [--start KEY] [--end KEY]
                                        [--operator] [--cache DIR] [--port 3312] [--keep]

`dagster dev -m stockmonitor_assets.definitions` in a fresh workspace (a copy of the
repo-root dagster.yaml, empty DATA_DIR), then the mutation the UI's "Materialize all" over a
partition range sends (`launchPartitionBackfill`, every asset, every key of the partition set
unless --start/--end narrow it). The daemon of `dagster dev` plans it and launches its run(s)
in their own processes, so memory is sampled from /proc every 2 s over the server's whole
process group: the largest single process (the figure the CLI benchmark reports) and the
sum. Progress is printed every minute as Parquet files written per asset, the way a user
would watch the partitions bar fill. Afterwards the asset page's GraphQL queries
(bench_ui.py) are timed on the instance now holding every partition.
"""

import argparse
import os
import time
from pathlib import Path

from bench_history import partition_set
from bench_ui import graphql, time_asset_page, wait_loaded
from benchlib import Workspace, dagster_dev, load, median, print_machine, scratch, table

# stockmonitor_testkit is on sys.path through benchlib: the mutation the UI sends, its status
from stockmonitor_testkit.dagster_dev import (
    BACKFILL_DONE,
    DagsterDev,
    backfill_status,
    launch_ui_backfill,
)

ASSETS = "query Assets { assetNodes { assetKey { path } } }"


def group_rss_mib(pgid: int) -> tuple[float, float]:
    """(largest process, sum) resident MiB over the processes of process group `pgid`."""
    sizes = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:  # fields after "(comm)": state, ppid, pgrp, ...
                sizes.append(int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20)
        except (OSError, ValueError, IndexError):
            continue
    return (max(sizes, default=0.0), sum(sizes))


def files_written(data: Path, assets: list[str]) -> dict[str, int]:
    return {a: sum(1 for _ in (data / a).glob("*.parquet")) for a in assets}


def run_backfill(ws: Workspace, port: int, first: str, last: str) -> dict:
    with dagster_dev(ws, port) as server:
        wait_loaded(port)
        assets = [n["assetKey"]["path"][0] for n in graphql(port, ASSETS)[1]["assetNodes"]]
        keys = [k for k in all_keys() if first <= k <= last]
        ui = DagsterDev(ws.dir, port)
        start = time.perf_counter()
        backfill = launch_ui_backfill(ui, assets, keys)
        result = follow(ui, backfill, server.pid, ws.data, assets, len(keys), start)
        result["ui"] = time_asset_page(port, "technical_indicators", reps=3)[0]
        return result | {"keys": len(keys), "assets": len(assets)}


def all_keys() -> list[str]:
    from stockmonitor_assets.trading_calendar import trading_day_partitions

    return trading_day_partitions.get_partition_keys()


def follow(ui, backfill, pgid, data, assets, days, start) -> dict:
    peak_one = peak_sum = 0.0
    last_print = 0.0
    while True:
        one, total = group_rss_mib(pgid)
        peak_one, peak_sum = max(peak_one, one), max(peak_sum, total)
        elapsed = time.perf_counter() - start
        if elapsed - last_print >= 60:
            last_print = elapsed
            done = files_written(data, assets)
            progress = ", ".join(f"{a} {n}" for a, n in done.items() if n)
            print(f"{elapsed:7.0f} s  load {load():>14}  RSS {one:6.0f}/{total:6.0f} MiB  "
                  f"files of {days}: {progress or '-'}", flush=True)  # fmt: skip
        status, runs = backfill_status(ui, backfill)
        if status in BACKFILL_DONE and all(
            r["status"] not in ("STARTED", "STARTING", "QUEUED") for r in runs
        ):
            break
        time.sleep(2)
    return {
        "wall": time.perf_counter() - start,
        "status": status,
        "runs": [r["status"] for r in runs],
        "peak_one": peak_one,
        "peak_sum": peak_sum,
        "files": files_written(data, assets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--start", help="first key (default: the partition set's first)")
    parser.add_argument("--end", help="last key (default: the partition set's last)")
    parser.add_argument("--operator", action="store_true", help="export the operator settings")
    parser.add_argument("--cache", type=Path, help="the demo market's cache (default: temporary)")
    parser.add_argument("--port", type=int, default=3312)
    parser.add_argument("--keep", action="store_true", help="keep the workspace")
    args = parser.parse_args()
    print_machine()
    first, last, count = partition_set()
    first, last = args.start or first, args.end or last
    print(f"partition set ({count:,} keys); UI backfill of {first}...{last}", flush=True)
    with scratch("stockmonitor-bench-ui-history-", keep=args.keep) as root:
        ws = Workspace(root, "ui-history", args.stocks, "sqlite", args.operator)
        if args.cache:
            ws.env["CACHE_DIR"] = str(args.cache)
        before = load()
        try:
            r = run_backfill(ws, args.port, first, last)
        finally:
            ws.close(keep=args.keep)
    print(f"\n## UI backfill {first}...{last}, {args.stocks:,} stocks "
          f"({'operator settings' if args.operator else 'fresh clone'})\n")  # fmt: skip
    rows = [
        ("wall (launch -> backfill done)", f"**{r['wall']:.1f} s** ({r['wall'] / 60:.1f} min)"),
        ("backfill status / runs", f"{r['status']} / {len(r['runs'])}: {', '.join(r['runs'])}"),
        ("peak RSS, largest process (2 s samples)", f"**{r['peak_one'] / 1024:.2f} GiB**"),
        ("peak RSS, sum over dagster dev's processes", f"{r['peak_sum'] / 1024:.2f} GiB"),
        ("files written per asset", ", ".join(f"{a} {n}" for a, n in r["files"].items())),
        ("keys x assets selected", f"{r['keys']:,} x {r['assets']}"),
        ("load before / after", f"{before} / {load()}"),
    ]  # fmt: skip
    rows += [(f"asset page GraphQL afterwards: {name} (s, median of {len(v)})",
              f"{median(v):.2f}") for name, v in r["ui"].items()]  # fmt: skip
    print(table(("figure", "value"), rows))


if __name__ == "__main__":
    main()
