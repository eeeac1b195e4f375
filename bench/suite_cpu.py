"""`make test` with its CPU metered: wall, the machine's busy CPU-seconds, and CPU by module.

Usage: python bench/suite_cpu.py [--top 14] [--report DIR]

Runs `make test` from the repo root with the pytest plugin `stockmonitor_testkit.cpu_meter`
(per test module: the xdist worker's own CPU and that of the processes it reaped), and reads
/proc/stat before and after for the CPU the whole machine was busy (tests, their daemons,
Postgres, the machine's own services). What `make test` can reach on this machine follows:
at ~1.9 busy cores, a wall of W seconds needs ≤ ~1.9 W CPU-seconds. `--report DIR` prints the
table of an earlier run's meter directory.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchlib import REPO, print_machine, table


def busy_jiffies() -> tuple[int, int]:
    """(busy, all) jiffies of every CPU since boot, from /proc/stat's first line."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def row(label: str, own: float, children: float, wall: float, tests: float) -> tuple:
    return (label, int(tests), f"{own:.1f}", f"{children:.1f}", f"**{own + children:.1f}**",
            f"{wall:.1f}")  # fmt: skip


def report(folder: Path, top: int) -> None:
    modules: dict[str, list[float]] = {}
    for path in sorted(folder.glob("*.json")):
        modules.update(json.loads(path.read_text()))
    ordered = sorted(modules.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    rows = [row(f"`{name.removeprefix('stockmonitor_assets_tests/')}`", *v) for name, v in ordered]
    rest = [v for _, v in ordered[top:]]
    if rest:
        sums = map(sum, zip(*rest, strict=True))  # own, children, wall, tests
        rows = [*rows[:top], row(f"the other {len(rest)} modules", *sums)]
    metered = sum(v[0] + v[1] for v in modules.values())
    print(f"\nmetered: {metered:.1f} CPU-s\n")
    print(table(("module", "tests", "own CPU-s", "children CPU-s", "total", "wall s"), rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=14, help="modules listed one by one")
    parser.add_argument("--report", type=Path, help="only print an earlier meter directory")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.top)
        return
    print_machine()
    folder = Path(tempfile.mkdtemp(prefix="stockmonitor-cpu-meter-"))
    env = os.environ | {
        "CPU_METER_DIR": str(folder),
        "PYTEST_ADDOPTS": "-p stockmonitor_testkit.cpu_meter",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    (busy, total), started = busy_jiffies(), time.monotonic()
    done = subprocess.run(["make", "test"], cwd=REPO, env=env)
    (busy_after, total_after), wall = busy_jiffies(), time.monotonic() - started
    tick = os.sysconf("SC_CLK_TCK")
    cpu_busy, cpu_all = (busy_after - busy) / tick, (total_after - total) / tick
    print(f"\nmake test: rc {done.returncode}, wall {wall:.1f} s, machine busy {cpu_busy:.0f} "
          f"of {cpu_all:.0f} CPU-s ({cpu_busy / cpu_all:.0%}); meter: {folder}")  # fmt: skip
    report(folder, args.top)


if __name__ == "__main__":
    main()
