"""A market-data source plug-in: the demo market with half its trading volume.

A real plug-in would wrap a vendor's API; this one wraps the embedded demo market so the
example runs offline. It implements stockmonitor's `MarketDataSource` interface by
delegation and changes one thing a test can see (volume and turnover halved, prices and
VWAP unchanged), so the test can tell it is the one in use.
"""

import datetime as dt
from collections.abc import Sequence

import polars as pl

from stockmonitor_assets import settings_resource
from stockmonitor_assets.sources.demo import DemoMarket


class CalmDemo:
    """The demo market, with volume and turnover halved."""

    name = "calm_demo"

    def __init__(self, config: settings_resource.Settings):
        self.demo = DemoMarket(
            seed=config.demo_seed,
            universe_size=config.universe_size,
            cache_dir=config.demo_cache_dir,
        )

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return self.demo.trading_days(start, end)

    def instruments(self, day: dt.date) -> pl.DataFrame:
        return self.demo.instruments(day)

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        bars = self.demo.daily_bars(ids, start, end)
        return bars.with_columns(pl.col("volume", "total_turnover") / 2)

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.demo.ex_factors(ids, start, end)

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        return self.demo.fundamentals_pit(ids, day)

    def latest_published_day(self) -> dt.date | None:
        return self.demo.latest_published_day()


def calm_demo() -> CalmDemo:
    """What `stockmonitor.sources` calls: settings come from the operator's environment,
    parsed as stockmonitor parses them."""
    return CalmDemo(settings_resource.Settings.from_env())
