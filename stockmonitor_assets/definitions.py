"""The code location: every asset, check, job and resource of stockmonitor."""

import dagster as dg

from stockmonitor_assets import settings
from stockmonitor_assets.assets import market
from stockmonitor_assets.io_managers import PartitionedParquetIOManager
from stockmonitor_assets.resources import market_data_from_env

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([market]),
    resources={
        "io_manager": PartitionedParquetIOManager(base_dir=settings.data_dir()),
        "market_data": market_data_from_env(),
    },
    # Polars already uses every core; a subprocess per step costs ~0.7 s each (DESIGN §6).
    executor=dg.in_process_executor,
)
