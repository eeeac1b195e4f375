"""The interface every market-data provider implements, and the errors it may raise.

Providers return frames in the contracts of `schemas.py` (INSTRUMENTS without `date`,
SOURCE_BARS, EX_FACTORS, FUNDAMENTALS without `date`); assets add the partition date and
enforce the contract on write, so a provider bug is caught before anything is stored.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import polars as pl


class SourceError(RuntimeError):
    """Base class of every error a provider raises on purpose."""


class TransientSourceError(SourceError):
    """A failure worth retrying (network hiccup, timeout, server busy)."""


class AuthenticationError(SourceError):
    """Credentials are missing or rejected: retrying cannot help."""


class QuotaExceededError(SourceError):
    """The account's data quota is used up: retrying cannot help until it resets."""


class DataNotAvailableError(SourceError):
    """The day was not a trading day for the source, or its data is not published yet."""


@runtime_checkable
class MarketDataSource(Protocol):
    """What the pipeline needs from a provider. All dates are trading days in Asia/Shanghai."""

    name: str

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """The source's own trading days in [start, end]: the final word on what was open."""

    def instruments(self, day: dt.date) -> pl.DataFrame:
        """Every stock listed on `day` (delisted ones included for past days), with attributes."""

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Unadjusted daily bars of `ids` in [start, end]; suspended days may be absent."""

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Ex-dividend events of `ids` with ex_date <= end (all history: factors are cumulative)."""

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        """Fundamentals as known on `day`: only reports announced on or before it."""

    def latest_published_day(self) -> dt.date | None:
        """The latest trading day whose data the source has published (None: no data at all).

        Freshness is judged against it, not the wall clock: a historical dataset is up to
        date when its last day is scored.
        """
