"""A source reading user-supplied Parquet or CSV files, and an exporter writing that layout.

Layout of the directory (each table as `<name>.parquet` or `<name>.csv`; the full user
description, with the vendor spellings accepted, is docs/files-source.md):

    instruments     order_book_id, board, listed_date            (required)
                    symbol, de_listed_date, is_st, is_suspended  (optional; false / null)
                    date  (optional: per-day snapshots; without it the rows are static)
    bars/           any number of files, read as their union (a single `bars.*` also works):
                    order_book_id, date, open, high, low, close, volume (required)
                    prev_close, total_turnover, limit_up, limit_down     (optional)
                    is_suspended / is_trading (tradestatus), is_st (isST), volume_unit
    ex_factors      order_book_id, ex_date, ex_cum_factor         (optional table)
    fundamentals    order_book_id, report_period, announce_date   (optional table)
                    net_profit_ttm, total_equity, revenue_ttm     (optional columns)
    market_caps     order_book_id, date                           (optional table)
                    total_market_cap, float_market_cap, source_pe_ttm, source_pb
    trading_days    date  (optional table; else the dates present in the bars)

Vendor conventions normalized here: suspended days (flagged by the bar or the instruments
snapshot) may carry empty volume/turnover (-> 0) and empty prices; volume in lots when
`volume_unit` says so; missing limits derived by `transforms.limits`; without an
ex_factors table, factors inferred from `prev_close` (`factor_origin` says which).

Every file is read and checked on first use; all problems of all files are raised together
as one `SourceFileError` naming file, column, stock, date and count.
"""

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources.base import DataNotAvailableError, MarketDataSource
from stockmonitor_assets.sources.files_layout import (
    BARS_TABLE,
    DEFAULT_LIMITS,
    EX_FACTORS_TABLE,
    FUNDAMENTALS_TABLE,
    INSTRUMENTS_TABLE,
    MARKET_CAPS_TABLE,
    TRADING_DAYS_TABLE,
    UNADJUSTED_FLAG,
    FileLimits,
    Problem,
    SourceFileError,
    Table,
    duplicate_problems,
    empty,
    null_problems,
    range_problems,
    read_table,
    without_echoes,
)
from stockmonitor_assets.transforms import bars as bar_rules
from stockmonitor_assets.transforms.limits import derive_price_limits

__all__ = ["FilesSource", "SourceFileError", "export_to_files"]

_INSTRUMENT_COLUMNS = [n for n in INSTRUMENTS.names if n != "date"]
_PRICES = ("open", "high", "low", "close")
FACTORS_FROM_FILE = "ex_factors table"
FACTORS_INFERRED = "inferred from prev_close: close[t-1] / prev_close[t], from the first bar"
FACTORS_NONE = "none: no ex_factors table and no prev_close, every factor is 1"


@dataclass
class _Loaded:
    """Every table, typed and normalized, and every problem found reading them."""

    instruments: pl.DataFrame
    bars: pl.DataFrame
    ex_factors: pl.DataFrame
    fundamentals: pl.DataFrame
    market_caps: pl.DataFrame
    trading_days: pl.DataFrame
    factor_origin: str
    problems: list[Problem] = field(default_factory=list)


class FilesSource:
    """`MarketDataSource` over a directory in the layout above (read once, kept in memory)."""

    name = "files"

    def __init__(self, directory: Path, limits: FileLimits = DEFAULT_LIMITS):
        self.directory, self.limits = Path(directory), limits
        if not self.directory.is_dir():
            raise SourceFileError(f"files source directory {self.directory} does not exist")

    # --- the MarketDataSource interface -------------------------------------------------

    def trading_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        days = self._data.trading_days.filter(pl.col("date").is_between(start, end))
        return days["date"].to_list()

    def latest_published_day(self) -> dt.date | None:
        """The last day with bars in the files: a historical dataset is fresh up to there."""
        return self._data.bars["date"].max()

    def instruments(self, day: dt.date) -> pl.DataFrame:
        if day not in self.trading_days(day, day):
            raise DataNotAvailableError(f"{day} is not a trading day in {self.directory}")
        table = self._instruments_on(day)
        if table is None:
            raise DataNotAvailableError(f"{self._path('instruments')} has no rows for {day}")
        flags = self._bar_flags.get(day)
        if flags is not None:
            table = table.join(flags, on="order_book_id", how="left").with_columns(
                is_st=pl.coalesce("_bar_is_st", "is_st"),
                is_suspended=pl.coalesce("_bar_is_suspended", "is_suspended"),
            )
        return _listed_on(table, day).select(_INSTRUMENT_COLUMNS).sort("order_book_id")

    def daily_bars(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        wanted = pl.col("order_book_id").is_in(list(ids)) & pl.col("date").is_between(start, end)
        return SOURCE_BARS.conform(self._data.bars.filter(wanted))

    def ex_factors(self, ids: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        wanted = pl.col("order_book_id").is_in(list(ids)) & (pl.col("ex_date") <= end)
        return EX_FACTORS.conform(self._data.ex_factors.filter(wanted))

    def fundamentals_pit(self, ids: Sequence[str], day: dt.date) -> pl.DataFrame:
        """The latest report announced on or before `day` per stock, joined with `day`'s caps.

        Reports are indexed by stock and caps by day once, so a day costs a join on that
        day's rows, not a filter over every snapshot of every day.
        """
        listed = _listed_on(self._instruments_on(day, static_if_missing=True), day)
        wanted = pl.DataFrame({"order_book_id": list(ids)}, schema={"order_book_id": pl.String})
        wanted = wanted.join(listed.select("order_book_id"), on="order_book_id", how="semi")
        # Sorted once by (stock, period, announce): the last row announced by `day` is the
        # latest period's latest version.
        latest = (
            self._reports.filter(pl.col("announce_date") <= day)
            .unique("order_book_id", keep="last", maintain_order=True)
            .join(wanted, on="order_book_id", how="semi")
        )
        caps = self._caps_by_day.get(day, _EMPTY_CAPS).join(wanted, on="order_book_id", how="semi")
        merged = latest.join(caps, on="order_book_id", how="full", coalesce=True)
        return FUNDAMENTALS.conform(merged.with_columns(date=pl.lit(day))).drop("date")

    # --- what else the files tell -------------------------------------------------------

    @property
    def factor_origin(self) -> str:
        """Where `adj_factor` comes from: the ex_factors table, inferred, or none."""
        return self._data.factor_origin

    def problems(
        self, sessions: Sequence[dt.date] | None = None, since: dt.date | None = None
    ) -> list[Problem]:
        """Everything wrong with the files, without raising.

        Also bar dates missing from the `trading_days` table, and with `sessions` (the
        exchange calendar's trading days from `since` on) bar dates from `since` on that
        are not sessions.
        """
        loaded = self._load()
        found = list(loaded.problems)
        bar_dates = loaded.bars.select("date", "order_book_id", "_file")
        if self._path("trading_days") is not None:
            found += _dates_outside(bar_dates, loaded.trading_days["date"], "trading_days")
        if sessions is not None:
            judged = bar_dates.filter(pl.col("date") >= since) if since else bar_dates
            found += _dates_outside(judged, pl.Series(sessions, dtype=pl.Date), "sessions")
        return found

    def date_range(self) -> tuple[dt.date, dt.date] | None:
        """First and last day with bars (read without raising), or None without bars."""
        dates = self._load().bars["date"].drop_nulls()
        return (dates.min(), dates.max()) if len(dates) else None

    # --- reading ------------------------------------------------------------------------

    @functools.cached_property
    def _data(self) -> _Loaded:
        loaded = self._load()
        if loaded.problems:
            raise SourceFileError(loaded.problems)
        return loaded

    @functools.cache  # noqa: B019 - one instance per directory, kept for the process
    def _load(self) -> _Loaded:
        problems: list[Problem] = []

        def table(spec: Table, required: bool = False) -> pl.DataFrame:
            frame, found = self._read(spec, required)
            problems.extend(found)
            return frame

        instruments = table(INSTRUMENTS_TABLE, required=True)
        raw_bars = self._read_bars(problems)
        trading_days = (
            table(TRADING_DAYS_TABLE).select(pl.col("date").drop_nulls().unique().sort())
            if self._path("trading_days") is not None
            else raw_bars.select(pl.col("date").drop_nulls().unique().sort())
        )
        bars, bar_problems = _normalized_bars(raw_bars, instruments, trading_days["date"])
        problems += bar_problems
        factors = table(EX_FACTORS_TABLE)
        if self._path("ex_factors") is not None:
            origin = FACTORS_FROM_FILE
        elif bars["prev_close"].is_not_null().any():
            factors, origin = bar_rules.infer_ex_factors(bars), FACTORS_INFERRED
        else:
            origin = FACTORS_NONE
        return _Loaded(
            instruments=instruments.drop("_file"),
            bars=bars,
            ex_factors=factors.select(EX_FACTORS.names),
            fundamentals=table(FUNDAMENTALS_TABLE).drop("_file"),
            market_caps=table(MARKET_CAPS_TABLE).drop("_file"),
            trading_days=trading_days,
            factor_origin=origin,
            problems=without_echoes(problems),
        )

    def _read(self, spec: Table, required: bool = False) -> tuple[pl.DataFrame, list[Problem]]:
        found = self._paths(spec.name)
        if len(found) > 1:
            text = f"both {found[0].name} and {found[1].name} exist; keep one"
            return empty(spec), [Problem(str(found[0]), text)]
        if not found:
            missing = f"{self.directory / spec.name}.parquet (or .csv) is missing"
            return empty(spec), [Problem(str(self.directory), missing)] if required else []
        frame, problems = read_table(found[0], spec, self.limits)
        problems += range_problems(frame, spec)
        if spec is not BARS_TABLE:
            problems += null_problems(frame, spec, spec.required, "empty value(s)")
            problems += duplicate_problems(frame, spec, str(found[0]))
        return frame, problems

    def _read_bars(self, problems: list[Problem]) -> pl.DataFrame:
        folder = self.directory / "bars"
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.suffix in (".parquet", ".csv") and not _is_hidden(p.relative_to(folder))
        )
        if not files:
            frame, found = self._read(BARS_TABLE, required=True)
            problems.extend(found)
            return frame
        parts = []
        for path in files:
            frame, found = read_table(path, BARS_TABLE, self.limits)
            parts.append(frame)
            problems.extend(found)
        return pl.concat(parts, how="vertical_relaxed")

    @functools.cached_property
    def _instruments_by_day(self) -> dict[dt.date, pl.DataFrame] | None:
        """Per-day snapshots keyed by day (one pass over the table); None if static."""
        table = self._data.instruments
        if table["date"].null_count() == len(table):
            return None
        return {key[0]: part for key, part in table.partition_by("date", as_dict=True).items()}

    def _instruments_on(self, day: dt.date, static_if_missing: bool = False):
        by_day = self._instruments_by_day
        if by_day is None:
            return self._data.instruments
        return by_day.get(day, INSTRUMENTS_TABLE_EMPTY if static_if_missing else None)

    @functools.cached_property
    def _bar_flags(self) -> dict[dt.date, pl.DataFrame]:
        """Per-day suspension/ST flags delivered with the bars (tradestatus/isST)."""
        flags = self._data.bars.filter(
            pl.col("_bar_is_st").is_not_null() | pl.col("_bar_is_suspended").is_not_null()
        ).select("date", "order_book_id", "_bar_is_st", "_bar_is_suspended")
        return {k[0]: v.drop("date") for k, v in flags.partition_by("date", as_dict=True).items()}

    @functools.cached_property
    def _reports(self) -> pl.DataFrame:
        return self._data.fundamentals.sort("order_book_id", "report_period", "announce_date")

    @functools.cached_property
    def _caps_by_day(self) -> dict[dt.date, pl.DataFrame]:
        caps = self._data.market_caps
        return {k[0]: v.drop("date") for k, v in caps.partition_by("date", as_dict=True).items()}

    def _paths(self, name: str) -> list[Path]:
        candidates = (self.directory / f"{name}.{ext}" for ext in ("parquet", "csv"))
        return [p for p in candidates if p.exists()]

    def _path(self, name: str) -> Path | None:
        found = self._paths(name)
        return found[0] if found else None


INSTRUMENTS_TABLE_EMPTY = empty(INSTRUMENTS_TABLE).drop("_file")
_EMPTY_CAPS = empty(MARKET_CAPS_TABLE).drop("_file", "date")


def _is_hidden(path: Path) -> bool:
    """A dot-file or a file in a dot-folder: macOS `._name` resource forks, editor locks,
    backups. Never data."""
    return any(part.startswith(".") for part in path.parts)


def _normalized_bars(
    bars: pl.DataFrame, instruments: pl.DataFrame, sessions: pl.Series
) -> tuple[pl.DataFrame, list[Problem]]:
    """Vendor conventions -> SOURCE_BARS rules; the problems that remain are real defects."""
    problems = _unit_and_adjustment_problems(bars)
    bars = _with_suspension(bars, instruments).with_columns(
        volume=bar_rules.volume_in_shares(pl.col("volume"), pl.col("volume_unit"))
    )
    suspended = pl.col("_suspended")
    bars = bars.with_columns(
        [
            pl.when(suspended & (pl.col(c).is_null() | pl.col(c).is_nan()))
            .then(0.0)
            .otherwise(pl.col(c))
            .alias(c)
            for c in ("volume", "total_turnover")
        ]
    )
    traded = bars.filter(~suspended)
    problems += null_problems(traded, BARS_TABLE, _PRICES, "empty value(s)")
    problems += null_problems(
        traded, BARS_TABLE, ("volume",), "empty value(s) on days not marked suspended"
    )
    problems += null_problems(bars, BARS_TABLE, ("order_book_id", "date"), "empty value(s)")
    problems += range_problems(bars, BARS_TABLE)
    problems += duplicate_problems(bars, BARS_TABLE, "bars")
    up, down = _derived_limits(bars, instruments, sessions)
    bars = bars.with_columns(
        # Derived only for files without the column: a null given limit means "unlimited".
        limit_up=pl.when("_given_limit_up").then("limit_up").otherwise(up),
        limit_down=pl.when("_given_limit_down").then("limit_down").otherwise(down),
    )
    return bars.select(*SOURCE_BARS.names, "_bar_is_st", "_bar_is_suspended", "_file"), problems


def _unit_and_adjustment_problems(bars: pl.DataFrame) -> list[Problem]:
    unit = pl.col("volume_unit").str.to_lowercase()
    known = unit.is_in(bar_rules.VOLUME_UNITS)
    bad_unit = bars.filter(pl.col("volume_unit").is_not_null() & ~known)
    adjusted = bars.filter(
        pl.col("adjust_flag").is_not_null() & (pl.col("adjust_flag") != UNADJUSTED_FLAG)
    )
    return null_problems(
        bad_unit.with_columns(volume_unit=pl.lit(None, pl.String)),
        BARS_TABLE,
        ("volume_unit",),
        f"unknown unit(s) (use one of {list(bar_rules.VOLUME_UNITS)})",
    ) + null_problems(
        adjusted.with_columns(adjust_flag=pl.lit(None, pl.String)),
        BARS_TABLE,
        ("adjust_flag",),
        f"adjusted price row(s) (need unadjusted, adjustflag={UNADJUSTED_FLAG})",
    )


def _with_suspension(bars: pl.DataFrame, instruments: pl.DataFrame) -> pl.DataFrame:
    """`_suspended` per bar: the bar's own flag (is_suspended, or tradestatus 0), else the
    instruments snapshot of that day; `_bar_*` keep the bar's flags for `instruments()`."""
    own = pl.coalesce("is_suspended", ~pl.col("is_trading"))
    bars = bars.with_columns(_bar_is_suspended=own, _bar_is_st=pl.col("is_st"))
    # Only the snapshot rows saying "suspended" matter: the join stays small.
    suspended_days = instruments.filter(
        pl.col("date").is_not_null() & pl.col("is_suspended").fill_null(False)
    ).select("order_book_id", "date", _listed_suspended=pl.lit(True))
    if suspended_days.is_empty():
        return bars.with_columns(_suspended=own.fill_null(False))
    bars = bars.join(suspended_days, on=["order_book_id", "date"], how="left")
    return bars.with_columns(
        _suspended=pl.coalesce(own, "_listed_suspended").fill_null(False)
    ).drop("_listed_suspended")


def _derived_limits(
    bars: pl.DataFrame, instruments: pl.DataFrame, sessions: pl.Series
) -> tuple[pl.Series, pl.Series]:
    """limit_up/limit_down by the rules of `transforms.limits`, row-aligned with `bars`;
    computed only for bars with a prev_close from files without limit columns.

    Board and listing day are a stock's own (its last snapshot); ST is the bar's flag, else
    the instruments' (per day for snapshots).
    """
    rows = (
        bars.with_row_index("_row")
        .filter(
            ~(pl.col("_given_limit_up") & pl.col("_given_limit_down"))
            & pl.col("prev_close").is_not_null()
        )
        .select("_row", "order_book_id", "date", "prev_close", "_bar_is_st")
    )
    up = pl.repeat(None, len(bars), dtype=pl.Float64, eager=True)
    down = up.clone()
    if rows.is_empty():
        return up, down
    static = instruments["date"].null_count() == len(instruments)
    per_stock = instruments.sort("date", nulls_last=False).unique("order_book_id", keep="last")
    frame = rows.join(
        per_stock.select("order_book_id", "board", "listed_date", _static_st="is_st"),
        on="order_book_id",
        how="left",
    )
    if static:
        listed_st = pl.col("_static_st")
    else:
        st_days = instruments.filter(pl.col("date").is_not_null() & pl.col("is_st"))
        frame = frame.join(
            st_days.select("order_book_id", "date", _day_st=pl.lit(True)),
            on=["order_book_id", "date"],
            how="left",
        )
        listed_st = pl.col("_day_st").fill_null(False)
    frame = frame.with_columns(
        is_st=pl.coalesce("_bar_is_st", listed_st),
        listing_session=_listing_sessions(frame["date"], frame["listed_date"], sessions),
    )
    limits = derive_price_limits(frame)
    index = frame["_row"]
    return up.scatter(index, limits["limit_up"]), down.scatter(index, limits["limit_down"])


def _listing_sessions(days: pl.Series, listed: pl.Series, sessions: pl.Series) -> pl.Series:
    """1 on the listing day: the files' trading days in [listed, day], plus the weekdays
    before the files' first day for stocks listed earlier (an estimate only there)."""
    calendar = sessions.drop_nulls().sort().to_numpy()
    if len(calendar) == 0 or len(days) == 0:
        return pl.Series("listing_session", [None] * len(days), dtype=pl.Int64)
    first = calendar[0]
    day = days.fill_null(first).to_numpy()
    since = listed.fill_null(first).to_numpy()
    count = (
        np.searchsorted(calendar, day, "right")
        - np.searchsorted(calendar, since, "left")
        + np.busday_count(np.minimum(since, first), first)
    )
    missing = (listed.is_null() | days.is_null()).to_numpy()
    return pl.Series("listing_session", np.where(missing, -1, count)).replace(-1, None)


def _dates_outside(bars: pl.DataFrame, days: pl.Series, calendar: str) -> list[Problem]:
    outside = bars.filter(pl.col("date").is_not_null() & ~pl.col("date").is_in(days.implode()))
    return [
        Problem(
            file,
            f"column 'date' has {len(rows)} date(s) not in {calendar}",
            len(rows),
            tuple(f"{i} {d}" for i, d in rows.select("order_book_id", "date").head(20).iter_rows()),
        )
        for (file,), rows in outside.group_by("_file", maintain_order=True)
    ]


def _listed_on(instruments: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return instruments.filter(
        (pl.col("listed_date") <= day)
        & (pl.col("de_listed_date").is_null() | (pl.col("de_listed_date") > day))
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
