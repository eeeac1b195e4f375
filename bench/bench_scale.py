"""Memory follows the chunk, not the range: 10 years in one command vs 1 year.

Usage: python bench/bench_scale.py [--stocks 1000] [--reps 3]
           [--long 2015-01-05...2024-12-31] [--short 2024-01-02...2024-12-31]

Each repetition runs both ranges once (alternating which goes first), each in a fresh
workspace (empty DATA_DIR, a fresh embedded instance as a fresh clone has it, no DAGSTER_*
variable; the demo market's cache shared), as one command:
`dagster asset materialize -m stockmonitor_assets.definitions --select '*'
--partition-range A...B`. Reported: peak RSS (the largest process) and wall of each,
medians, and the ratio of the median peaks (target <= 1.5x), with STOCKMONITOR_CHUNK_DAYS
as set (default 60).
"""

import argparse
import json
import os
from pathlib import Path

from benchlib import Workspace, machine, median, print_machine, scratch, table


def bench(args: argparse.Namespace, root: Path) -> dict:
    ranges = {"long": args.long, "short": args.short}
    runs: dict[str, list[dict]] = {"long": [], "short": []}
    for rep in range(args.reps):
        order = ("short", "long") if rep % 2 == 0 else ("long", "short")
        for name in order:
            ws = Workspace(root, f"{name}_{rep}", args.stocks, "sqlite", False)
            try:
                run = {**ws.materialize(ranges[name]), **ws.last_run()}
            finally:
                ws.close()
            runs[name].append(run)
            if args.json:
                partial = {"ranges": ranges, "stocks": args.stocks, "runs": runs}
                args.json.write_text(json.dumps(partial | {"machine": machine()}, indent=1))
            print(
                f"rep {rep + 1} {name} {ranges[name]}: {run['wall']:.1f} s, "
                f"{run['rss_mib']:.0f} MiB (load {run['load']})",
                flush=True,
            )
    return {"ranges": ranges, "stocks": args.stocks, "runs": runs}


def report(results: dict) -> None:
    chunk = os.environ.get("STOCKMONITOR_CHUNK_DAYS", "60 (default)")
    print(f"\n## One command, {results['stocks']:,} stocks: long vs short range (chunk {chunk})\n")
    rows, peaks = [], {}
    for name, runs in results["runs"].items():
        peaks[name] = median([r["rss_mib"] for r in runs])
        wall = median([r["wall"] for r in runs])
        if not runs:
            continue
        rows.append(
            (
                results["ranges"][name],
                " / ".join(f"{r['rss_mib']:.0f}" for r in runs),
                f"**{peaks[name]:.0f}**",
                " / ".join(f"{r['wall']:.0f}" for r in runs),
                f"{wall:.0f}",
                f"{median([r['cpu'] for r in runs]):.0f}",
                runs[0]["events"],
                ", ".join(r["load"].split("/")[0] for r in runs),
            )
        )
    header = ("range", "peak RSS MiB (runs)", "median MiB", "wall s (runs)", "median wall s",
              "CPU s (median)", "events", "load (1 min)")  # fmt: skip
    print(table(header, rows))
    if len(peaks) == 2:
        ratio = peaks["long"] / peaks["short"]
        print(f"\npeak RSS long / short: **{ratio:.2f}x** (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--long", default="2015-01-05...2024-12-31")
    parser.add_argument("--short", default="2024-01-02...2024-12-31")
    parser.add_argument("--json", type=Path, help="write the raw figures here (after each run)")
    parser.add_argument("--report", type=Path, help="only print the report of a saved --json")
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return
    print_machine()
    with scratch("stockmonitor-bench-scale-") as root:
        results = bench(args, root)
    results["machine"] = machine()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
