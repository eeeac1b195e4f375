"""A tiny in-memory provider whose every row is written by the test that uses it."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from stockmonitor_assets import trading_calendar as tc
from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources.base import DataNotAvailableError


@dataclass
class CraftedMarket:
    """Serves exactly the frames it is given, filtered like a real source would."""

    instruments_frame: pl.DataFrame
    bars: pl.DataFrame
    ex_factor_frame: pl.DataFrame = field(default_factory=EX_FACTORS.empty)
    reports: pl.DataFrame = field(default_factory=lambda: FUNDAMENTALS.empty().drop("date"))
    closed_days: frozenset = frozenset()
    name: str = "crafted"
    calls: list = field(default_factory=list)

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return [d for d in tc.sessions(start, end) if d not in self.closed_days]

    def instruments(self, day: dt.date) -> pl.DataFrame:
        self.calls.append(("instruments", day))
        if day in self.closed_days:
            raise DataNotAvailableError(f"{day} was not a trading day")
        listed = (pl.col("listed_date") <= day) & (
            pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > day)
        )
        return self.instruments_frame.filter(listed)

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        self.calls.append(("daily_bars", start, end))
        return self.bars.filter(
            pl.col("order_book_id").is_in(list(ids)) & pl.col("date").is_between(start, end)
        )

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        return self.ex_factor_frame.filter(
            pl.col("order_book_id").is_in(list(ids)) & (pl.col("ex_date") <= end)
        )

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        """Latest report announced on or before `day` (the PIT rule under test)."""
        known = self.reports.filter(
            pl.col("order_book_id").is_in(list(ids)) & (pl.col("announce_date") <= day)
        )
        return known.sort("announce_date").group_by("order_book_id").last()


def instruments_frame(rows: list[dict]) -> pl.DataFrame:
    defaults = {
        "symbol": None,
        "board": "main",
        "de_listed_date": None,
        "is_st": False,
        "is_suspended": False,
    }
    frame = pl.DataFrame([{**defaults, **r} for r in rows])
    schema = INSTRUMENTS.polars_schema
    return frame.select(pl.col(n).cast(schema[n]) for n in INSTRUMENTS.names if n != "date")


def bars_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows).select(
        pl.col(n).cast(t) for n, t in SOURCE_BARS.polars_schema.items()
    )
