"""One day after a stored year via `dagster asset materialize`, beside a bare 7-asset chain.

Usage: python bench/bench_oneday.py [--day 2025-01-02] [--reps 5] [--stocks 5000]
                                    [--data DIR | --stored RANGE] [--operator]

The day's run (`dagster asset materialize -m stockmonitor_assets.definitions --select '*'
--partition DAY`) needs the year before it stored: `--data DIR` copies a DATA_DIR holding
it (e.g. `bench_year.py --keep-data DIR`), otherwise the script first runs `--stored`
(untimed; default the year 2024). The indicator window of a day is 250–269 sessions, more
than a year holds: after the year alone, ~27 window days come from the source; with
`--stored 2023-11-01...2024-12-31` the whole window is read from the store, as in every
daily run after a history backfill. Both commands run on the embedded instance as a fresh
clone has it (a copy of the repo-root dagster.yaml in their working directory, no DAGSTER_*
variable; `--operator` exports DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true for
both), interleaved in a rotating order, `--reps` times each. The yardstick is
`bench/bare_chain.py`: 7 daily-partitioned assets that do nothing, through the same command.
Reported: medians, the ratio of medians and the pairwise ratios, peak RSS, events and steps
of the day's run.
"""

import argparse
import json
import shutil
from pathlib import Path

from benchlib import HERE, Workspace, machine, median, print_machine, scratch, table

YEAR = "2024-01-02...2024-12-31"
BARE = ("-f", str(HERE / "bare_chain.py"))


def bench(args: argparse.Namespace, root: Path) -> dict:
    project = Workspace(root, "project", args.stocks, "sqlite", args.operator)
    bare = Workspace(root, "bare", args.stocks, "sqlite", args.operator)
    if args.data:
        shutil.rmtree(project.data)
        shutil.copytree(args.data, project.data)
    else:
        print(f"storing {args.stored} first (untimed)", flush=True)
        project.materialize(args.stored)
    stored = len(list((project.data / "completed_ohlcv").glob("*.parquet")))
    print(f"{stored} days of completed_ohlcv stored", flush=True)
    runs: dict[str, list[dict]] = {"project": [], "bare": []}
    for rep in range(args.reps):
        order = ("project", "bare") if rep % 2 == 0 else ("bare", "project")
        for name in order:
            if name == "project":
                run = {**project.materialize(args.day), **project.last_run()}
            else:
                run = {**bare.materialize(args.day, BARE), **bare.last_run()}
            runs[name].append(run)
            print(f"rep {rep + 1} {name}: {run['wall']:.2f} s (load {run['load']})", flush=True)
    project.close()
    bare.close()
    return {"day": args.day, "stored_days": stored, "runs": runs}


def report(results: dict) -> None:
    project, bare = results["runs"]["project"], results["runs"]["bare"]
    p, b = median([r["wall"] for r in project]), median([r["wall"] for r in bare])
    pairs = [x["wall"] / y["wall"] for x, y in zip(project, bare, strict=True)]
    print(f"\n## One day {results['day']} ({results['stored_days']} stored days before it)\n")
    rows = [
        ("dagster asset materialize, the project", " / ".join(f"{r['wall']:.2f}" for r in project),
         f"**{p:.2f}**", f"{max(r['rss_mib'] for r in project):.0f}", project[0]["events"],
         len(project[0]["steps"])),
        ("bench/bare_chain.py, same command", " / ".join(f"{r['wall']:.2f}" for r in bare),
         f"**{b:.2f}**", f"{max(r['rss_mib'] for r in bare):.0f}", bare[0]["events"],
         len(bare[0]["steps"])),
    ]  # fmt: skip
    print(table(("variant", "wall s (runs)", "median s", "peak RSS MiB", "events", "steps"), rows))
    print(
        f"\nratio of medians: **{p / b:.2f}x** (pairwise: "
        f"{', '.join(f'{r:.2f}' for r in pairs)}; median {median(pairs):.2f}x); "
        f"difference {p - b:.2f} s"
    )
    pc, bc = median([r["cpu"] for r in project]), median([r["cpu"] for r in bare])
    print(f"CPU s (user + system, median): project {pc:.2f}, bare chain {bc:.2f}: {pc / bc:.2f}x")
    print(f"load (1 min) before each project run: {', '.join(r['load'] for r in project)}")
    print("\nsteps of the project's day (median s, event log):\n")
    steps = list(project[0]["steps"])
    rows = [(s, f"{median([r['steps'][s] for r in project]):.2f}") for s in steps]
    print(table(("step", "s"), rows))
    start = median([r["start_to_end"] for r in project])
    print(f"\nrun start -> end (median): project {start:.2f} s, bare chain "
          f"{median([r['start_to_end'] for r in bare]):.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2025-01-02")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--data", type=Path, help="a DATA_DIR with the year before the day")
    parser.add_argument("--stored", default=YEAR, help="range stored first (without --data)")
    parser.add_argument("--operator", action="store_true", help="export the operator settings")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--report", type=Path, help="only print the report of a saved --json")
    args = parser.parse_args()
    if args.report:
        report(json.loads(args.report.read_text()))
        return
    print_machine()
    with scratch("stockmonitor-bench-oneday-") as root:
        results = bench(args, root)
    results["machine"] = machine()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    report(results)


if __name__ == "__main__":
    main()
