"""Shared helpers of the benchmarks: machine facts, interleaved timing, medians, tables.

The benchmark machine is shared and noisy, so variants are always timed side by side in
one process run: every repetition runs each variant once, in a rotating order, and the
report quotes medians and ratios of medians.
"""

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata


def machine() -> dict[str, str]:
    """nproc, memory and CPU model of this machine, and the versions that matter."""
    model = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        kib = int(info.readline().split()[1])
    facts = {
        "nproc": str(os.cpu_count()),
        "memory": f"{kib / 2**20:.1f} GiB",
        "cpu": model,
        "python": platform.python_version(),
    }
    for package in ("polars", "dagster", "numpy", "pandas", "ta-lib"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = "not installed"
    return facts


def print_machine() -> None:
    print(" | ".join(f"{k}: {v}" for k, v in machine().items()))


def interleaved(
    variants: dict[str, Callable[[], object]], repetitions: int
) -> dict[str, list[float]]:
    """Wall seconds of each variant per repetition, run in a rotating order."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repetitions):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, log: str | None = None
) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB of its largest descendant).

    Peak RSS comes from `wait4`'s rusage of the child (ru_maxrss is the maximum over the
    child and its waited-for descendants, i.e. the largest single process, not a sum).
    Raises if the command fails, showing the tail of its output.
    """
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if log:
        out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = open(log).read()[-3000:] if log else ""
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}\n{tail}")
    return wall, usage.ru_maxrss / 1024


def self_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def python_exe() -> str:
    return sys.executable
