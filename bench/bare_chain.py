"""The issue's yardstick: a bare chain of 7 daily-partitioned assets that do nothing.

`dagster asset materialize -f bench/bare_chain.py --select '*' --partition D` (from a
directory holding a copy of the repo-root dagster.yaml, in-process executor, as
`bench_oneday.py` runs it) costs what any one-partition run of a 7-step graph pays Dagster
on this machine at this moment: CLI and code-location imports, run creation, 7 steps of
events. Measured beside the project's one-day run, it turns the absolute target into a ratio.
"""

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2015-01-05", end_offset=1)


def _step(name: str, upstream: str | None) -> dg.AssetsDefinition:
    @dg.asset(name=name, partitions_def=DAYS, deps=[upstream] if upstream else [])
    def _asset() -> None:
        return None

    return _asset


NAMES = [f"step_{i}" for i in range(7)]
defs = dg.Definitions(
    assets=[_step(n, NAMES[i - 1] if i else None) for i, n in enumerate(NAMES)],
    executor=dg.in_process_executor,
)
