"""A source reading user-supplied Parquet or CSV files, and an exporter writing that layout.

Layout of the directory (each table as `<name>.parquet` or `<name>.csv`; dates ISO
`YYYY-MM-DD`, booleans true/false; column names and dtypes those of `schemas.py`):

    instruments     order_book_id, board, listed_date            (required)
                    symbol, de_listed_date, is_st, is_suspended  (optional; false / null)
                    date  (optional: per-day snapshots; without it the rows are static)
    bars/           any number of files, read as their union (a single `bars.*` also works):
                    order_book_id, date, open, high, low, close, volume (required)
                    prev_close, total_turnover, limit_up, limit_down     (optional)
    ex_factors      order_book_id, ex_date, ex_cum_factor         (optional table)
    fundamentals    order_book_id, report_period, announce_date   (optional table)
                    net_profit_ttm, total_equity, revenue_ttm     (optional columns)
    market_caps     order_book_id, date                           (optional table)
                    total_market_cap, float_market_cap, source_pe_ttm, source_pb
    trading_days    date  (optional table; else the dates present in the bars)

Files are validated when first read: a missing column, an uncastable value, a negative
price or volume, a non-positive ex factor or a duplicated key raises `SourceFileError`
naming the file and the column. Fundamentals are used point in time: on day D the latest
report period announced on or before D (its latest version), and D's market caps.
"""

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources.base import (
    DataNotAvailableError,
    MarketDataSource,
    SourceError,
)

_TYPES = {
    **INSTRUMENTS.polars_schema,
    **SOURCE_BARS.polars_schema,
    **EX_FACTORS.polars_schema,
    **FUNDAMENTALS.polars_schema,
}
_REPORT_VALUES = ("net_profit_ttm", "total_equity", "revenue_ttm")
_CAP_VALUES = ("total_market_cap", "float_market_cap", "source_pe_ttm", "source_pb")
_INSTRUMENT_COLUMNS = [n for n in INSTRUMENTS.names if n != "date"]
_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}


class SourceFileError(SourceError):
    """A user-supplied file breaks the documented layout; the message names file and column."""


@dataclass(frozen=True)
class Table:
    """One table of the layout: its columns, key and value rules."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    non_negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    defaults: tuple[tuple[str, object], ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


INSTRUMENTS_TABLE = Table(
    "instruments",
    ("order_book_id", "board", "listed_date"),
    ("symbol", "de_listed_date", "is_st", "is_suspended", "date"),
    key=("order_book_id", "date"),
    defaults=(("is_st", False),),
)
BARS_TABLE = Table(
    "bars",
    ("order_book_id", "date", "open", "high", "low", "close", "volume"),
    ("prev_close", "total_turnover", "limit_up", "limit_down"),
    key=("order_book_id", "date"),
    non_negative=SOURCE_BARS.names[2:],
)
EX_FACTORS_TABLE = Table(
    "ex_factors", tuple(EX_FACTORS.names), key=EX_FACTORS.key, positive=("ex_cum_factor",)
)
FUNDAMENTALS_TABLE = Table(
    "fundamentals",
    ("order_book_id", "report_period", "announce_date"),
    _REPORT_VALUES,
    key=("order_book_id", "report_period", "announce_date"),
)
MARKET_CAPS_TABLE = Table(
    "market_caps", ("order_book_id", "date"), _CAP_VALUES, key=("order_book_id", "date")
)
TRADING_DAYS_TABLE = Table("trading_days", ("date",), key=("date",))


class FilesSource:
    """`MarketDataSource` over a directory in the layout above (read once, kept in memory)."""

    name = "files"

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SourceFileError(f"files source directory {self.directory} does not exist")

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        days = self._trading_days.filter(pl.col("date").is_between(start, end))
        return days["date"].to_list()

    def instruments(self, day: dt.date) -> pl.DataFrame:
        if day not in self.trading_days(day, day):
            raise DataNotAvailableError(f"{day} is not a trading day in {self.directory}")
        table = self._instruments
        if table["date"].null_count() < len(table):
            table = table.filter(pl.col("date") == day)
            if table.is_empty():
                raise DataNotAvailableError(f"{self._path('instruments')} has no rows for {day}")
        return _listed_on(table, day).select(_INSTRUMENT_COLUMNS).sort("order_book_id")

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        wanted = pl.col("order_book_id").is_in(list(ids)) & pl.col("date").is_between(start, end)
        return SOURCE_BARS.conform(self._bars.filter(wanted))

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        factors = self._table(EX_FACTORS_TABLE)
        wanted = pl.col("order_book_id").is_in(list(ids)) & (pl.col("ex_date") <= end)
        return EX_FACTORS.conform(factors.filter(wanted))

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        listed = _listed_on(self._instruments, day)["order_book_id"]
        wanted = pl.col("order_book_id").is_in(list(ids)) & pl.col("order_book_id").is_in(listed)
        reports = self._table(FUNDAMENTALS_TABLE).filter(wanted & (pl.col("announce_date") <= day))
        latest = reports.sort("order_book_id", "report_period", "announce_date").unique(
            "order_book_id", keep="last", maintain_order=True
        )
        caps = self._table(MARKET_CAPS_TABLE).filter(wanted & (pl.col("date") == day)).drop("date")
        merged = latest.join(caps, on="order_book_id", how="full", coalesce=True)
        return FUNDAMENTALS.conform(merged.with_columns(date=pl.lit(day))).drop("date")

    # --- reading ------------------------------------------------------------------------

    @functools.cached_property
    def _instruments(self) -> pl.DataFrame:
        return self._table(INSTRUMENTS_TABLE, required=True)

    @functools.cached_property
    def _bars(self) -> pl.DataFrame:
        files = sorted(
            p for p in (self.directory / "bars").rglob("*") if p.suffix in (".parquet", ".csv")
        ) or [self._path("bars", required=True)]
        parts = [_typed(_read(p), p, BARS_TABLE).with_columns(_file=pl.lit(str(p))) for p in files]
        bars = pl.concat(parts, how="vertical_relaxed")
        _check_unique(bars, BARS_TABLE, "bars")
        return bars.drop("_file")

    @functools.cached_property
    def _trading_days(self) -> pl.DataFrame:
        if self._path("trading_days") is not None:
            return self._table(TRADING_DAYS_TABLE).sort("date")
        return self._bars.select(pl.col("date").unique().sort())

    @functools.cache  # noqa: B019 - one instance per directory, kept for the process
    def _table(self, table: Table, required: bool = False) -> pl.DataFrame:
        path = self._path(table.name, required)
        if path is None:
            return _typed(pl.DataFrame(), None, table)
        frame = _typed(_read(path), path, table).with_columns(_file=pl.lit(str(path)))
        _check_unique(frame, table, str(path))
        return frame.drop("_file")

    def _path(self, name: str, required: bool = False) -> Path | None:
        found = [
            p
            for p in (self.directory / f"{name}.{ext}" for ext in ("parquet", "csv"))
            if p.exists()
        ]
        if len(found) > 1:
            raise SourceFileError(f"both {found[0]} and {found[1]} exist; keep one")
        if not found and required:
            raise SourceFileError(f"{self.directory / name}.parquet (or .csv) is missing")
        return found[0] if found else None


def _listed_on(instruments: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return instruments.filter(
        (pl.col("listed_date") <= day)
        & (pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > day))
    )


def _read(path: Path) -> pl.DataFrame:
    """CSV is read as text, so every cast below is checked with the same rules."""
    try:
        if path.suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceFileError(f"{path}: cannot be read: {exc}") from exc


def _typed(frame: pl.DataFrame, path: Path | None, table: Table) -> pl.DataFrame:
    """The table's columns in contract dtypes; absent optional columns become defaults."""
    missing = [c for c in table.required if c not in frame.columns]
    if path is not None and missing:
        raise SourceFileError(f"{path}: missing column(s) {missing}")
    defaults = dict(table.defaults)
    columns = [
        _cast(frame[c], _TYPES[c], path)
        if c in frame.columns
        else pl.Series(c, [defaults.get(c)] * len(frame), dtype=_TYPES[c])
        for c in table.columns
    ]
    typed = pl.DataFrame(columns)
    _check_values(typed, table, path)
    return typed


def _cast(column: pl.Series, dtype: pl.DataType, path: Path | None) -> pl.Series:
    if column.dtype == pl.String and dtype == pl.Date:
        cast = column.str.to_date("%Y-%m-%d", strict=False)
    elif column.dtype == pl.String and dtype == pl.Boolean:
        cast = column.str.to_lowercase().replace_strict(
            _BOOLEAN_TEXT, default=None, return_dtype=pl.Boolean
        )
    else:
        cast = column.cast(dtype, strict=False)
    bad = column.filter(cast.is_null() & column.is_not_null())
    if len(bad):
        raise SourceFileError(
            f"{path}: column '{column.name}' has {len(bad)} value(s) that are not {dtype}, "
            f"e.g. {bad[0]!r}"
        )
    return cast


def _check_values(frame: pl.DataFrame, table: Table, path: Path | None) -> None:
    for c in table.required:
        if frame[c].null_count():
            raise SourceFileError(
                f"{path}: column '{c}' has {frame[c].null_count()} empty value(s)"
            )
    for columns, rule in ((table.non_negative, pl.Expr.lt), (table.positive, pl.Expr.le)):
        for c in columns:
            bad = frame.filter(rule(pl.col(c), 0))
            if len(bad):
                row = bad.row(0, named=True)
                where = ", ".join(f"{k}={row[k]}" for k in table.key if k != c)
                raise SourceFileError(
                    f"{path}: column '{c}' has {len(bad)} out-of-range value(s), "
                    f"e.g. {row[c]} at {where}"
                )


def _check_unique(frame: pl.DataFrame, table: Table, where: str) -> None:
    duplicated = frame.filter(pl.struct(table.key).is_duplicated())
    if len(duplicated):
        row = duplicated.row(0, named=True)
        same = pl.all_horizontal(pl.col(k).eq_missing(pl.lit(row[k])) for k in table.key)
        files = sorted(duplicated.filter(same)["_file"].unique())
        key = {k: str(row[k]) for k in table.key}
        raise SourceFileError(
            f"{where}: {len(duplicated)} rows share a key {list(table.key)}, e.g. {key} in {files}"
        )


def export_to_files(
    source: MarketDataSource,
    ids: Sequence[str] | None,
    start: dt.date,
    end: dt.date,
    directory: Path,
    fmt: str = "parquet",
) -> Path:
    """Write `source`'s data for [start, end] in this module's layout, per-day instruments.

    `ids=None` exports each day's whole universe. Reading the directory back through
    `FilesSource` serves the same frames for those days and stocks.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    directory = Path(directory)
    (directory / "bars").mkdir(parents=True, exist_ok=True)
    days = source.trading_days(start, end)
    universe = [_universe(source, day, ids) for day in days]
    instruments = pl.concat(universe)
    everyone = instruments["order_book_id"].unique().sort().to_list()
    pit = [
        source.fundamentals_pit(u["order_book_id"].to_list(), day).with_columns(date=pl.lit(day))
        for day, u in zip(days, universe, strict=True)
    ]
    fundamentals = pl.concat([FUNDAMENTALS.empty(), *pit], how="diagonal_relaxed")
    tables = {
        "trading_days": pl.DataFrame({"date": pl.Series(days, dtype=pl.Date)}),
        "instruments": instruments,
        f"bars/{start}_{end}": source.daily_bars(everyone, start, end),
        "ex_factors": source.ex_factors(everyone, start, end),
        "fundamentals": fundamentals.filter(pl.col("report_period").is_not_null())
        .select(FUNDAMENTALS_TABLE.columns)
        .unique(FUNDAMENTALS_TABLE.key, keep="first", maintain_order=True),
        "market_caps": fundamentals.select(MARKET_CAPS_TABLE.columns),
    }
    for name, frame in tables.items():
        path = directory / f"{name}.{fmt}"
        frame.write_csv(path) if fmt == "csv" else frame.write_parquet(path)
    return directory


def _universe(source: MarketDataSource, day: dt.date, ids: Sequence[str] | None) -> pl.DataFrame:
    frame = source.instruments(day).with_columns(date=pl.lit(day))
    if ids is not None:
        frame = frame.filter(pl.col("order_book_id").is_in(list(ids)))
    return frame.select(INSTRUMENTS_TABLE.columns)
