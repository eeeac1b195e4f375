"""How many contract passes a range costs: `TableSchema.conform` calls, rows and seconds.

Usage: PYTHONPATH=<checkout> <checkout>/.venv/bin/python bench/count_conform.py [STOCKS]

Materializes the market assets 2024-05-20..2024-06-04 (history), then counts every
`conform` while all assets run 2024-06-05..2024-06-11 in one run (demo source, STOCKS
listed at most, default 300). Run it with each checkout on PYTHONPATH to compare them
(issue 21: one conform per asset-day, at the write, plus the sources' own validation).
"""

import collections
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from stockmonitor_assets import schemas
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets_tests.clean_run import ASSETS, MARKET
from stockmonitor_assets_tests.conftest import Pipeline

calls, rows, seconds = collections.Counter(), collections.Counter(), collections.Counter()
original = schemas.TableSchema.conform


def counted(self, frame):
    began = time.perf_counter()
    out = original(self, frame)
    seconds[self.name] += time.perf_counter() - began
    calls[self.name] += 1
    rows[self.name] += len(frame)
    return out


def main() -> None:
    stocks = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    schemas.TableSchema.conform = counted
    with tempfile.TemporaryDirectory() as data_dir:
        source = DemoMarket(seed=5, universe_size=stocks)
        pipeline = Pipeline(Path(data_dir), source, dg.DagsterInstance.ephemeral())
        pipeline.materialize(MARKET, "2024-05-20", "2024-06-04")
        calls.clear(), rows.clear(), seconds.clear()
        began = time.perf_counter()
        result = pipeline.materialize(ASSETS, "2024-06-05", "2024-06-11")
        wall = time.perf_counter() - began
    assert result.success
    for name in sorted(calls):
        print(f"{name:24s} calls {calls[name]:4d} rows {rows[name]:8d} s {seconds[name]:.3f}")
    total = f"calls {sum(calls.values())} rows {sum(rows.values())}"
    print(f"TOTAL {total} conform_s {sum(seconds.values()):.3f} wall_s {wall:.1f}")


if __name__ == "__main__":
    main()
