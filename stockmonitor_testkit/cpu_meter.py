"""A pytest plugin that meters the suite's CPU by test module (bench/suite_cpu.py uses it).

`make test` is CPU-bound on 2 cores, so its wall follows the CPU-seconds its tests spend,
most of them in processes the tests start (`dagster` and `stockmonitor` commands,
`dagster dev`, deployments). Per test, it adds the worker's own CPU (`RUSAGE_SELF`) and that
of the processes it reaped (`RUSAGE_CHILDREN`: a subprocess counts once waited for, with the
descendants it reaped in turn) to the test's module, and at the end each worker writes its
table as JSON into $CPU_METER_DIR. Load it with `-p stockmonitor_testkit.cpu_meter`.
"""

import json
import os
import resource
import time
from pathlib import Path

import pytest

_MODULES: dict[str, list[float]] = {}  # module -> [own CPU s, children CPU s, wall s, tests]


def _cpu() -> tuple[float, float]:
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    (own, children), started = _cpu(), time.monotonic()
    yield
    (own_after, children_after), ended = _cpu(), time.monotonic()
    row = _MODULES.setdefault(item.nodeid.split("::")[0], [0.0, 0.0, 0.0, 0])
    row[0] += own_after - own
    row[1] += children_after - children
    row[2] += ended - started
    row[3] += 1


def pytest_sessionfinish(session):
    if not _MODULES:
        return  # the xdist controller runs no test
    folder = Path(os.environ.get("CPU_METER_DIR", "cpu-meter"))
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    (folder / f"{worker}.json").write_text(json.dumps(_MODULES))
