"""Wall time of the vendor-style export (`stockmonitor_testkit/vendor_fixture.py`) through the
whole graph.

Usage: python bench/bench_vendor_fixture.py [--reps 3]

Each repetition writes the export (53 stocks x 320 sessions of baostock-style CSVs) into a
fresh directory and materializes every asset and check that `test_vendor_export.py` runs
over all 320 sessions in one range run, on an ephemeral instance, in this process (the
first repetition includes numba's cache load and Dagster's imports warming up). Reports the
median and each repetition.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
from benchlib import median, print_machine

from stockmonitor_assets.assets import indicators, market, scoring
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.resources import MarketDataResource
from stockmonitor_assets.settings_resource import Settings
from stockmonitor_assets.thresholds import QualityThresholds
from stockmonitor_assets.trading_calendar import partition_key

# stockmonitor_testkit is on sys.path through benchlib.
from stockmonitor_testkit.vendor_fixture import write_vendor_export

# The assets test_vendor_export.py runs: every one but the database's (no Postgres here).
ASSETS = dg.load_assets_from_modules([market, indicators, scoring])


def one_run() -> tuple[float, float, bool]:
    root = Path(tempfile.mkdtemp(prefix="stockmonitor-vendor-bench-"))
    started = time.perf_counter()
    export = write_vendor_export(root / "export")
    written = time.perf_counter() - started
    settings = Settings.from_env({**os.environ, "DATA_DIR": str(root / "data")})
    resources = {
        "io_manager": PartitionedParquetIOManager(
            base_dir=settings.data_dir, run_health=settings.run_health
        ),
        "market_data": MarketDataResource(source="files", files_dir=str(export.directory)),
        "quality": QualityThresholds(),
        "settings": settings,
    }
    tags = {
        "dagster/asset_partition_range_start": partition_key(export.sessions[0]),
        "dagster/asset_partition_range_end": partition_key(export.sessions[-1]),
    }
    started = time.perf_counter()
    result = dg.materialize(
        ASSETS,
        tags=tags,
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return written, time.perf_counter() - started, result.success


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    runs = [one_run() for _ in range(args.reps)]
    for written, seconds, success in runs:
        print(f"write {written:.2f} s, range run {seconds:.1f} s, success={success}")
    print(f"median range run: {median([r[1] for r in runs]):.1f} s over {args.reps} reps")


if __name__ == "__main__":
    main()
