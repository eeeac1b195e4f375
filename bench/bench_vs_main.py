"""This checkout beside another one (e.g. an older main), one span, fresh clones' instances.

Usage: python bench/bench_vs_main.py --baseline TREE [--span 2024-01-02...2024-12-31]
                                     [--stocks 5000] [--reps 3] [--event-cost] [--cache DIR]

TREE is a checkout with its own `.venv` (`git clone . /tmp/old && git -C /tmp/old checkout
REV && make -C /tmp/old .venv/.installed-dev`). Each repetition runs both checkouts once,
in a rotating order, as a user of a fresh clone runs them: `dagster asset materialize -m
stockmonitor_assets.definitions --select '*' --partition-range SPAN` with the checkout's own
venv, in a fresh working directory holding copies of that checkout's `dagster.yaml` and
`.env` (if it has one: Dagster's CLI loads it from the working directory, as it does from a
clone's root), no DAGSTER_* variable, an empty DATA_DIR, the demo market's cache shared.
Reported: per checkout the medians of wall, CPU and peak RSS and the run's events; the
ratio of medians and the pairwise ratios (this / baseline). With --event-cost, each
checkout's event floor: the same command on `bench/event_graph.py` in its venv (its graph
with empty bodies) for the span and for its first day; per-event cost = (wall span - wall day)
/ (events span - events day), and the floor = the run's events x that cost.
"""

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from benchlib import REPO, load, median, print_machine, rotations, run_child, scratch, table

MODULE = ("-m", "stockmonitor_assets.definitions")


class Checkout:
    """A checkout and its venv; `run` materializes a span in a fresh workspace."""

    def __init__(self, name: str, tree: Path, root: Path, stocks: int, cache: Path):
        self.name, self.tree, self.root = name, tree.resolve(), root
        self.bin = self.tree / ".venv" / "bin"
        if not (self.bin / "dagster").exists():
            raise SystemExit(f"{self.tree} has no .venv: run `make .venv/.installed-dev` there")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DB_"))}
        self.env = env | {
            "STOCKMONITOR_SOURCE": "demo",
            "STOCKMONITOR_UNIVERSE_SIZE": str(stocks),
            "CACHE_DIR": str(cache),
        }
        self.runs = 0

    def workspace(self) -> Path:
        self.runs += 1
        folder = self.root / f"{self.name}{self.runs}"
        (folder / "data").mkdir(parents=True)
        for name in ("dagster.yaml", ".env"):
            if (self.tree / name).exists():
                shutil.copy(self.tree / name, folder / name)
        return folder

    def run(self, span: str, target=MODULE) -> dict:
        folder = self.workspace()
        env = self.env | {"DATA_DIR": str(folder / "data"), "LOG_DIR": str(folder / "logs")}
        flag = "--partition-range" if "..." in span else "--partition"
        argv = [str(self.bin / "dagster"), "asset", "materialize", *target, "--select", "*"]
        before = load()
        wall, rss, cpu = run_child([*argv, flag, span], env, folder / "run.log", folder)
        facts = subprocess.run(
            [str(self.bin / "python"), str(REPO / "bench" / "run_facts.py")],
            env=env, cwd=folder, capture_output=True, text=True, check=True,
        )  # fmt: skip
        events = json.loads(facts.stdout.strip().splitlines()[-1])["events"]
        shutil.rmtree(folder, ignore_errors=True)
        return {"wall": wall, "cpu": cpu, "rss_mib": rss, "events": events, "load": before}

    def event_cost_ms(self, span: str) -> float:
        graph = ("-f", str(REPO / "bench" / "event_graph.py"))  # imports the checkout's graph
        whole, first = self.run(span, graph), self.run(span.split("...")[0], graph)
        return (whole["wall"] - first["wall"]) / (whole["events"] - first["events"]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--span", default="2024-01-02...2024-12-31")
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--event-cost", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--cache", type=Path, help="the demo market's cache, kept between script runs (default: "
        "temporary: the first run then simulates every year since 2005, minutes at 5,000 stocks)"
    )  # fmt: skip
    args = parser.parse_args()
    print_machine()
    with scratch("stockmonitor-bench-vs-") as root:
        checkouts = {
            name: Checkout(name, tree, root, args.stocks, args.cache or root / "cache")
            for name, tree in (("baseline", args.baseline), ("this", REPO))
        }
        print(f"warming the demo cache ({args.stocks} stocks)", flush=True)
        checkouts["this"].run(args.span.split("...")[0])
        runs: dict[str, list[dict]] = {name: [] for name in checkouts}
        for rep, name in rotations(list(checkouts), args.reps):
            result = checkouts[name].run(args.span)
            runs[name].append(result)
            print(f"rep {rep + 1} {name}: {json.dumps(result)}", flush=True)
        cost = {}
        if args.event_cost:
            cost = {name: c.event_cost_ms(args.span) for name, c in checkouts.items()}
    report(args, runs, cost)


def report(args, runs: dict[str, list[dict]], cost: dict[str, float]) -> None:
    rows = []
    for name, results in runs.items():
        wall = median([r["wall"] for r in results])
        events = median([r["events"] for r in results])
        floor = f"{events * cost[name] / 1000:.1f} s ({cost[name]:.1f} ms/event)" if cost else "-"
        rows.append([
            name, " / ".join(f"{r['wall']:.1f}" for r in results), f"**{wall:.1f}**",
            f"{median([r['cpu'] for r in results]):.1f}",
            f"{max(r['rss_mib'] for r in results) / 1024:.2f}", f"{events:.0f}", floor,
            " ".join(r["load"] for r in results),
        ])  # fmt: skip
    print(f"\n{args.span}, {args.stocks} stocks, fresh clones' instances\n")
    print(table(["checkout", "wall s", "median", "CPU s", "peak GiB", "events",
                 "event floor", "load before"], rows))  # fmt: skip
    base, this = runs["baseline"], runs["this"]
    ratio = median([r["wall"] for r in this]) / median([r["wall"] for r in base])
    pairs = [t["wall"] / b["wall"] for t, b in zip(this, base, strict=True)]
    print(f"\nthis / baseline: ratio of medians **{ratio:.2f}x**; pairwise "
          + ", ".join(f"{p:.2f}" for p in pairs))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "event_cost_ms": cost, "ratio": ratio}))


if __name__ == "__main__":
    main()
