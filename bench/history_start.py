"""History from 2005: import time, partition-set operations and the demo market's cost.

Run from the repo root:  .venv/bin/python bench/history_start.py [--base DIR] [--reps N]

1. Import time of `stockmonitor_assets.trading_calendar` and `.definitions` in fresh
   processes, interleaved: this tree vs `--base` (a checkout of the code before the change,
   e.g. `git archive <commit> stockmonitor_assets | tar -x -C DIR`), holiday cache warm.
2. Partition-set operations the UI and backfills call, at one fixed "now": this tree's
   definition from 2005 (~5,300 keys) vs the midnight end_offset=1 definition from 2015 and
   from 2005 and the rejected exact-15:00 one (`0 0,15 * * 1-5` cron); and a one-day
   `dg.materialize` of a 3-asset chain with a 250-day window mapping on each (in-memory IO).
3. The demo market at 5,000 stocks in a fresh CACHE_DIR: simulating 2005..2026 cold (time,
   peak RSS, disk), then a warm single day and a warm year of bars, each in a new process.

Every measurement runs in a fresh interpreter (`--task`), which prints one JSON line.
"""

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 29, 12, 0)
LAST_DAY = dt.date(2026, 11, 27)
MODULES = ("stockmonitor_assets.trading_calendar", "stockmonitor_assets.definitions")


def run_task(task: list[str], env: dict | None = None, path: str | None = None) -> dict:
    full_env = {**os.environ, **(env or {})}
    if path:
        full_env["PYTHONPATH"] = path
    command = [sys.executable, __file__, "--task", *task]
    done = subprocess.run(command, env=full_env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_times(base: str | None, reps: int) -> None:
    trees = [("this tree", None), *([("base", base)] if base else [])]
    for module in MODULES:
        for _, path in trees:
            run_task(["import", module], path=path)  # warm the holiday cache and bytecode
        times: dict[str, list[float]] = {name: [] for name, _ in trees}
        for rep in range(reps):
            for name, path in trees[rep % len(trees) :] + trees[: rep % len(trees)]:
                times[name].append(run_task(["import", module], path=path)["s"])
        medians = {name: statistics.median(v) for name, v in times.items()}
        line = ", ".join(f"{name} {m:.2f} s" for name, m in medians.items())
        ratio = f" (ratio {medians['this tree'] / medians['base']:.2f})" if base else ""
        print(f"import {module}: median of {reps}: {line}{ratio}")


def partition_ops(reps: int) -> None:
    runs = [run_task(["partitions"]) for _ in range(reps)]
    for name in runs[0]:
        if name == "peak_rss_mib":
            continue
        cells = [f"{runs[0][name]['keys']} keys"]
        for label in runs[0][name]:
            if label != "keys":
                cells.append(f"{label} {statistics.median(r[name][label] for r in runs):.3f} s")
        print(f"{name} (median of {reps} fresh processes): " + "; ".join(cells))


def demo_costs() -> None:
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as cache:
        env = {"CACHE_DIR": cache}
        day = LAST_DAY.isoformat()
        cold = run_task(["demo", day, day], env)
        files = list(Path(cache, "demo").glob("*.npz"))
        disk = sum(f.stat().st_size for f in files) / 2**20
        print(
            f"demo 5,000 stocks, cold cache: the first bars of {day} simulate {len(files)} "
            f"years in {cold['s']:.1f} s, peak RSS {cold['peak_rss_mib']:.0f} MiB, disk "
            f"{disk:.0f} MiB ({disk / len(files):.0f} MiB per year)"
        )
        for label, first, last in (("one day", day, day), ("one year", "2024-01-02", "2024-12-31")):
            warm = run_task(["demo", first, last], env)
            print(
                f"demo 5,000 stocks, warm cache, {label} of bars + ex_factors in a new process: "
                f"{warm['s']:.2f} s, {warm['rows']:,} rows, peak RSS {warm['peak_rss_mib']:.0f} MiB"
            )


# --- tasks, each run in a fresh interpreter ------------------------------------------------


def task_import(module: str) -> dict:
    start = time.perf_counter()
    __import__(module)
    return {"s": time.perf_counter() - start}


def task_partitions() -> dict:
    from zoneinfo import ZoneInfo

    import dagster as dg

    from stockmonitor_assets import trading_calendar as tc

    definitions = _definitions()
    operations = {
        "get_partition_keys": lambda p: p.get_partition_keys(),
        "get_last_partition_key": lambda p: p.get_last_partition_key(),
        "get_num_partitions": lambda p: p.get_num_partitions(),
        "all-partitions subset": lambda p: p.subset_with_all_partitions().get_partition_keys(),
    }
    out = {}
    with dg.partition_loading_context(effective_dt=NOW.replace(tzinfo=ZoneInfo(tc.TIMEZONE))):
        for name, partitions in definitions.items():
            timings = {"keys": len(partitions.get_partition_keys())}
            for label, operation in operations.items():
                start = time.perf_counter()
                operation(partitions)
                timings[label] = time.perf_counter() - start
            out[name] = timings
    return out


def _definitions() -> dict:
    import dagster as dg

    from stockmonitor_assets import trading_calendar as tc

    holidays = [dt.datetime.combine(d, dt.time()) for d in sorted(tc.HOLIDAYS)]

    def midnight(start: str) -> dg.PartitionsDefinition:
        return dg.DailyPartitionsDefinition(
            start_date=start,
            timezone=tc.TIMEZONE,
            fmt=tc.KEY_FORMAT,
            end_offset=1,
            exclusions=["0 0 * * 6,0", *holidays],
        )

    exact_close = dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0,15 * * 1-5",
        start=dt.datetime(2005, 1, 4),
        timezone=tc.TIMEZONE,
        fmt=tc.KEY_FORMAT,
        exclusions=["0 15 * * *", *holidays],
    )
    return {
        "this tree (midnight, end_offset=0) from 2005": tc.trading_day_partitions,
        "midnight end_offset=1 from 2015 (before)": midnight("2015-01-05"),
        "midnight end_offset=1 from 2005": midnight("2005-01-04"),
        "00:00/15:00 cron from 2005 (rejected)": exact_close,
    }


def task_chain(name: str) -> dict:
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore")
    partitions = _definitions()[name]
    window = dg.TimeWindowPartitionMapping(start_offset=-249)

    @dg.asset(partitions_def=partitions)
    def first() -> int:
        return 1

    @dg.asset(partitions_def=partitions, ins={"first": dg.AssetIn(partition_mapping=window)})
    def second(first) -> int:
        return 1

    @dg.asset(partitions_def=partitions)
    def third(second) -> int:
        return 1

    with dg.instance_for_test() as instance:
        resources = {"io_manager": dg.mem_io_manager}
        dg.materialize(
            [first, second, third],
            partition_key="2024-10-08",
            instance=instance,
            resources=resources,
        )
        start = time.perf_counter()
        dg.materialize(
            [first, second, third],
            partition_key="2024-10-08",
            instance=instance,
            resources=resources,
        )
        return {"s": time.perf_counter() - start}


def chain_runs(reps: int) -> None:
    names = list(run_task(["partitions"]).keys() - {"peak_rss_mib"})
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            times[name].append(run_task(["chain", name])["s"])
    for name in sorted(names):
        print(
            f"one-day 3-asset chain, 250-day window mapping, {name}: median of {reps} "
            f"{statistics.median(times[name]):.2f} s"
        )


def task_demo(first: str, last: str) -> dict:
    from stockmonitor_assets.sources.demo import DemoMarket

    market = DemoMarket(seed=42, universe_size=5000, clock=lambda: dt.datetime(2027, 1, 4, 16))
    ids = market.instruments(LAST_DAY)["order_book_id"].to_list()
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    start = time.perf_counter()
    rows = len(market.daily_bars(ids, a, b))
    market.ex_factors(ids, a, b)
    return {"s": time.perf_counter() - start, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="a checkout of stockmonitor_assets before the change")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--task", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        name, *params = args.task
        out = globals()[f"task_{name}"](*params)
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.stdout.write(json.dumps(out) + "\n")
        return
    import_times(args.base, args.reps)
    partition_ops(max(3, args.reps // 2))
    chain_runs(max(3, args.reps // 2))
    demo_costs()


if __name__ == "__main__":
    main()
