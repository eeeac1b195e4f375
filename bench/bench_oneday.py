"""One day after a stored year via `dagster asset materialize`, beside a bare 7-asset chain.

Usage: python bench/bench_oneday.py [--day 2025-01-02] [--reps 5] [--stocks 5000]
                                    [--data DIR | --stored RANGE] [--operator] [--versus DIR]
                                    [--floor]

The day's run (`dagster asset materialize -m stockmonitor_assets.definitions --select '*'
--partition DAY`) needs the year before it stored: `--data DIR` copies a DATA_DIR holding
it (e.g. `bench_year.py --keep-data DIR`), otherwise the script first runs `--stored`
(untimed; default the year 2024). The indicator window of a day is 250–269 sessions, more
than a year holds: after the year alone, ~27 window days come from the source; with
`--stored 2023-11-01...2024-12-31` the whole window is read from the store, as in every
daily run after a history backfill. Both commands run on the embedded instance as a fresh
clone has it (a copy of the repo-root dagster.yaml in their working directory, no DAGSTER_*
variable; `--operator` exports DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true for
both), interleaved in a rotating order, `--reps` times each, after one untimed run each
(which fills the demo market's cache and the compiled kernel's). The yardstick is
`bench/bare_chain.py`: 7 daily-partitioned assets that do nothing, through the same command.
`--versus DIR` adds a third variant: the same day on the same stored data by another
checkout's package (on PYTHONPATH, with its dagster.yaml), e.g. a worktree at main beside a
branch, so a change is measured before/after in one script run. `--floor` adds
`bench/event_graph.py`: the project's graph (assets, checks, partitions, code-location import)
whose assets compute nothing, so what Dagster alone charges a day of this graph, the floor
under any cut of the project's own work, is measured beside the other two.
Reported: medians, the ratio of medians and the pairwise ratios, peak RSS, events (by type)
and steps of the day's run.
"""

import argparse
import json
import shutil
from pathlib import Path

from benchlib import (
    HERE,
    MODULE,
    Workspace,
    machine,
    median,
    print_machine,
    rotations,
    scratch,
    table,
)

YEAR = "2024-01-02...2024-12-31"
BARE = ("-f", str(HERE / "bare_chain.py"))
FLOOR = ("-f", str(HERE / "event_graph.py"))
TARGETS = {"bare": BARE, "floor": FLOOR}  # any other variant runs the project's module


def bench(args: argparse.Namespace, root: Path) -> dict:
    project = Workspace(root, "project", args.stocks, "sqlite", args.operator)
    spaces = {"project": project}
    if args.versus:
        spaces["versus"] = Workspace(
            root, "versus", args.stocks, "sqlite", args.operator, checkout=args.versus
        )
    if args.floor:
        spaces["floor"] = Workspace(root, "floor", args.stocks, "sqlite", args.operator)
    spaces["bare"] = Workspace(root, "bare", args.stocks, "sqlite", args.operator)
    if args.data:
        shutil.rmtree(project.data)
        shutil.copytree(args.data, project.data)
    else:
        print(f"storing {args.stored} first (untimed)", flush=True)
        project.materialize(args.stored)
    stored = len(list((project.data / "completed_ohlcv").glob("*.parquet")))
    print(f"{stored} days of completed_ohlcv stored", flush=True)
    if args.versus:  # the same stored days, before the first timed run
        shutil.rmtree(spaces["versus"].data)
        shutil.copytree(project.data, spaces["versus"].data)
    # Untimed: the demo market's cache (shared) and each checkout's compiled-kernel cache
    # filled, as every daily run after the first finds them.
    for name, ws in spaces.items():
        ws.materialize(args.day, TARGETS.get(name, ("-m", MODULE)))
    runs: dict[str, list[dict]] = {name: [] for name in spaces}
    for rep, name in rotations(list(spaces), args.reps):
        ws = spaces[name]
        run = {**ws.materialize(args.day, TARGETS.get(name, ("-m", MODULE))), **ws.last_run()}
        runs[name].append(run)
        print(f"rep {rep + 1} {name}: {run['wall']:.2f} s (load {run['load']})", flush=True)
    for ws in spaces.values():
        ws.close()
    versus = str(args.versus) if args.versus else None
    return {"day": args.day, "stored_days": stored, "versus": versus, "runs": runs}


LABELS = {
    "project": "dagster asset materialize, the project",
    "versus": "the same, the --versus checkout",
    "floor": "bench/event_graph.py (the project's graph, empty bodies), same command",
    "bare": "bench/bare_chain.py, same command",
}


def report(results: dict) -> None:
    runs = results["runs"]
    walls = {name: median([r["wall"] for r in rs]) for name, rs in runs.items()}
    print(f"\n## One day {results['day']} ({results['stored_days']} stored days before it)\n")
    if results.get("versus"):
        print(f"--versus: {results['versus']}\n")
    rows = [
        (LABELS[name], " / ".join(f"{r['wall']:.2f}" for r in rs), f"**{walls[name]:.2f}**",
         f"{max(r['rss_mib'] for r in rs):.0f}", rs[0]["events"], len(rs[0]["steps"]))
        for name, rs in runs.items()
    ]  # fmt: skip
    print(table(("variant", "wall s (runs)", "median s", "peak RSS MiB", "events", "steps"), rows))
    for name in (n for n in runs if n != "bare"):
        print(f"\n{name}: {_ratios(runs[name], runs['bare'], 'wall')}")
        print(f"  CPU s (user + system): {_ratios(runs[name], runs['bare'], 'cpu')}")
    if "versus" in runs:
        print(f"\nproject / versus: {_ratios(runs['project'], runs['versus'], 'wall')}")
    if "floor" in runs:
        print(f"\nproject / floor: {_ratios(runs['project'], runs['floor'], 'wall')}")
    for name in (n for n in runs if n != "bare"):
        print(f"\nload (1 min) before each {name} run: {', '.join(r['load'] for r in runs[name])}")
        print(f"events by type ({name}): {runs[name][0]['by_type']}")
    steps = list(runs["project"][0]["steps"])
    others = [n for n in runs if n not in ("bare", "project")]
    print("\nsteps of the day (median s, event log):\n")
    rows = [(s, *(_median_step(runs[n], s) for n in ("project", *others))) for s in steps]
    print(table(("step", "project s", *(f"{n} s" for n in others)), rows))
    starts = ", ".join(
        f"{n} {median([r['start_to_end'] for r in rs]):.2f} s" for n, rs in runs.items()
    )
    print(f"\nrun start -> end (median): {starts}")


def _ratios(runs: list[dict], yardstick: list[dict], field: str) -> str:
    """Ratio of medians, the pairwise ratios (same repetition) and the difference."""
    a, b = median([r[field] for r in runs]), median([r[field] for r in yardstick])
    pairs = [x[field] / y[field] for x, y in zip(runs, yardstick, strict=True)]
    return (
        f"{a:.2f} / {b:.2f} s: ratio of medians **{a / b:.2f}x** (pairwise: "
        f"{', '.join(f'{r:.2f}' for r in pairs)}; median {median(pairs):.2f}x); "
        f"difference {a - b:.2f} s"
    )


def _median_step(runs: list[dict], step: str) -> str:
    times = [r["steps"][step] for r in runs if step in r["steps"]]
    return f"{median(times):.2f}" if times else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2025-01-02")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--data", type=Path, help="a DATA_DIR with the year before the day")
    parser.add_argument("--stored", default=YEAR, help="range stored first (without --data)")
    parser.add_argument("--operator", action="store_true", help="export the operator settings")
    parser.add_argument(
        "--versus", type=Path, help="another checkout (e.g. a worktree at main) to run beside"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="add bench/event_graph.py: the project's graph whose assets compute nothing",
    )
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
