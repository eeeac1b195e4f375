"""What a run's process measures about itself: CPU time and resident memory over time, and
the rows each step reads and writes through the IO manager. No Dagster import.

A sampler thread records (wall clock, process CPU seconds, RSS) every SAMPLE_S; a step's CPU
time and peak RSS are read off the samples between its start and end (taken from Dagster's
step events after the run), so measuring costs one /proc read per SAMPLE_S, not a hook per
step. A spike shorter than SAMPLE_S can be missed by a step's peak; the run's own peak
(`ru_maxrss`) is exact.
"""

import os
import resource
import threading
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

SAMPLE_S = 0.2
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident memory of this process now (Linux /proc; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Probe:
    """The samples and row counts of one run in this process."""

    run_id: str
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    reads: list[tuple[float, int]] = field(default_factory=list)  # (when, rows)
    rows_written: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        self.times.append(time.time())
        self.cpu.append(time.process_time())
        self.rss.append(rss_bytes())

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name=f"health-{self.run_id[:8]}")
        self._thread.daemon = True
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def usage(self, start: float, end: float) -> tuple[float, int]:
        """(CPU seconds, peak RSS bytes) between two wall-clock times (epoch seconds)."""
        cpu = max(0.0, self._cpu_at(end) - self._cpu_at(start))
        lo = max(bisect_left(self.times, start) - 1, 0)
        hi = min(bisect_right(self.times, end) + 1, len(self.times))
        return cpu, max(self.rss[lo:hi], default=0)

    def rows_read(self, start: float, end: float) -> int:
        """Rows loaded between two wall-clock times (a step's inputs, read as it runs)."""
        return sum(rows for when, rows in self.reads if start <= when <= end)

    def _cpu_at(self, moment: float) -> float:
        """Process CPU seconds at `moment`, interpolated between the samples around it."""
        i = bisect_left(self.times, moment)
        if i <= 0:
            return self.cpu[0]
        if i >= len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        share = (moment - t0) / (t1 - t0) if t1 > t0 else 1.0
        return self.cpu[i - 1] + share * (self.cpu[i] - self.cpu[i - 1])


_probes: dict[str, Probe] = {}
_lock = threading.Lock()


def begin(run_id: str) -> Probe:
    """Start measuring `run_id` in this process (again: keeps the running probe)."""
    with _lock:
        probe = _probes.get(run_id)
        if probe is None:
            probe = _probes[run_id] = Probe(run_id)
            probe.start()
        return probe


def end(run_id: str) -> Probe | None:
    """Stop measuring `run_id`; its probe, or None if it was never begun here."""
    with _lock:
        probe = _probes.pop(run_id, None)
    if probe is not None:
        probe.stop()
    return probe


def count_written(run_id: str | None, step_key: str | None, rows: int) -> None:
    """Add rows a step wrote (ignored outside a measured run)."""
    probe = _probes.get(run_id or "")
    if probe is not None and step_key is not None:
        probe.rows_written[step_key] += rows


def count_read(rows: int) -> None:
    """Add rows loaded now; they count for the step running at this moment. Dagster tells an
    IO manager's input neither run nor step, so this needs the process to run one run at a
    time (as Dagster's run workers do); with several runs measured at once it counts none."""
    with _lock:
        probes = list(_probes.values())
    if len(probes) == 1:
        probes[0].reads.append((time.time(), rows))
