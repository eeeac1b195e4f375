"""The whole history in one command: wall, peak RSS and progress of the full partition set.

Usage: python bench/bench_history.py [--stocks 5000] [--start KEY] [--end KEY]
                                     [--instance sqlite|postgres] [--operator] [--keep]

One `dagster asset materialize -m stockmonitor_assets.definitions --select '*'
--partition-range FIRST...LAST` over every key of the trading-day partitions definition
(FIRST/LAST: its first and last keys, as the code location defines them, unless --start /
--end narrow it: a short span tests the script), in a fresh workspace (empty DATA_DIR, a
fresh embedded instance, or deploy/dagster.yaml on a throwaway Postgres database; the
demo market's cache under --cache, kept between script runs since simulating 20 years of
5,000 stocks is the source's cost, not the pipeline's). The run's own progress lines
(`<asset>: n/N days written`) are echoed as they come, with the elapsed time and the
machine's load; at the end: wall, peak RSS (largest process), the run's events and steps.
"""

import argparse
import os
import re
import subprocess
import time
from pathlib import Path

from benchlib import BIN, MODULE, Workspace, load, print_machine, scratch, table

PROGRESS = re.compile(r" - (\w+: \d+/\d+ days written.*)$")


def partition_set() -> tuple[str, str, int]:
    from stockmonitor_assets.trading_calendar import trading_day_partitions

    keys = trading_day_partitions.get_partition_keys()
    return keys[0], keys[-1], len(keys)


def run_streaming(ws: Workspace, span: str) -> dict:
    """The command, echoing its progress lines; wall s and peak RSS MiB of its largest process."""
    argv = [str(BIN / "dagster"), "asset", "materialize", "-m", MODULE, "--select", "*",
            "--partition-range", span]  # fmt: skip
    start = time.perf_counter()
    with open(ws.log(1), "w") as log:
        proc = subprocess.Popen(
            argv, env=ws.env, cwd=ws.dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for line in proc.stdout:
            log.write(line)
            if match := PROGRESS.search(line.rstrip()):
                elapsed = time.perf_counter() - start
                print(f"{elapsed:8.1f} s  load {load():>14}  {match.group(1)}", flush=True)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"exited {code}; see {ws.log(1)}:\n{ws.log(1).read_text()[-3000:]}")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--start", help="first key (default: the partition set's first)")
    parser.add_argument("--end", help="last key (default: the partition set's last)")
    parser.add_argument("--instance", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--operator", action="store_true", help="export the operator settings")
    parser.add_argument("--cache", type=Path, help="the demo market's cache (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the workspace")
    args = parser.parse_args()
    print_machine()
    first, last, count = partition_set()
    span = f"{args.start or first}...{args.end or last}"
    print(f"partition set {first}...{last} ({count:,} keys); running {span}", flush=True)
    with scratch("stockmonitor-bench-history-", keep=args.keep) as root:
        ws = Workspace(root, "history", args.stocks, args.instance, args.operator)
        if args.cache:
            ws.env["CACHE_DIR"] = str(args.cache)
        before = load()
        try:
            result = run_streaming(ws, span)
            facts = ws.last_run()
        finally:
            ws.close(keep=args.keep)
    chunk = os.environ.get("STOCKMONITOR_CHUNK_DAYS", "60 (default)")
    print(f"\n## {span}, {args.stocks:,} stocks, one command ({args.instance}, chunk {chunk})\n")
    rows = [
        ("wall", f"**{result['wall']:.1f} s** ({result['wall'] / 60:.1f} min)"),
        ("peak RSS (largest process)", f"**{result['rss_mib'] / 1024:.2f} GiB**"),
        ("partitions materialized", facts["by_type"].get("ASSET_MATERIALIZATION", 0)),
        ("events in the run's event log", facts["events"]),
        ("run creation s / start -> end s",
         f"{facts['first_event_to_start']:.1f} / {facts['start_to_end']:.1f}"),
        ("load before / after", f"{before} / {load()}"),
    ]  # fmt: skip
    print(table(("figure", "value"), rows))
    print("\nsteps (s, event log):\n")
    print(table(("step", "s"), [(k, f"{v:.1f}") for k, v in facts["steps"].items()]))


if __name__ == "__main__":
    main()
