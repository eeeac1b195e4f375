"""Column contracts of every asset, in one place.

Every partition passes through `TableSchema.conform` once, when the store writes it
(`storage.PartitionStore.write`, by its folder in `FOLDERS`), so a partition on disk always
has exactly these columns, in this order, with these dtypes, sorted and unique on the
table's key.
"""

import json
from dataclasses import dataclass, field

import polars as pl

from stockmonitor_assets import plugins, settings

BOARDS = ("main", "chinext", "star", "bse")
FILL_REASONS = ("suspended", "missing_row", "missing_fields")
INELIGIBLE_REASONS = ("data_defect", "suspended", "st", "new_listing", "limit_up", "no_data")
LEVELS = ("强势股", "潜力股", "震荡股", "弱势股", "高风险股")


class SchemaViolation(ValueError):
    """A frame does not meet its table's contract; the message names table and column."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ("order_book_id", "date")
    # Invariants the producing code guarantees (name -> True when met; null: not judged).
    rules: tuple[tuple[str, pl.Expr], ...] = field(default=(), compare=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description for c in self.columns}

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)

    def align(self, df: pl.DataFrame) -> pl.DataFrame:
        """This contract's columns of `df`, in order, cast (strictly) to its dtypes, or
        SchemaViolation; rows are not checked: frames stacked before the write need only
        agree on columns, and the write conforms the result."""
        missing = [n for n in self.names if n not in df.columns]
        if missing:
            raise SchemaViolation(f"{self.name}: missing column(s) {missing}")
        try:
            return df.select(pl.col(c.name).cast(c.dtype, strict=True) for c in self.columns)
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
            raise self._cast_violation(df) from None

    def conform(self, df: pl.DataFrame) -> pl.DataFrame:
        """Select, cast (strictly) and sort `df` to this contract, or raise SchemaViolation."""
        out = self.align(df)
        for c in self.columns:
            if not c.nullable and out[c.name].null_count():
                rows = self._sample(out.filter(pl.col(c.name).is_null()))
                raise SchemaViolation(
                    f"{self.name}: column '{c.name}' has {out[c.name].null_count()} null(s), "
                    f"e.g. {rows}"
                )
        if self.key:
            duplicated = out.filter(out.select(self.key).is_duplicated())
            if len(duplicated):
                raise SchemaViolation(
                    f"{self.name}: {len(duplicated)} rows share a key {list(self.key)}, "
                    f"e.g. {self._sample(duplicated)}"
                )
        self._require_rules(out)
        return out.sort(list(self.key)) if self.key else out

    def _cast_violation(self, df: pl.DataFrame) -> SchemaViolation:
        """Which column cannot take its contract dtype, with a few offending rows."""
        for c in self.columns:
            try:
                df.select(pl.col(c.name).cast(c.dtype, strict=True))
            except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
                value = pl.col(c.name)
                converted = (
                    value.is_in(c.dtype.categories.to_list())
                    if isinstance(c.dtype, pl.Enum)
                    else value.cast(c.dtype, strict=False).is_not_null()
                )
                lost = value.is_not_null() & ~converted
                try:
                    bad = df.filter(lost)
                except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
                    bad = df  # no value converts (e.g. a list column): every row is wrong
                return SchemaViolation(
                    f"{self.name}: cannot cast to contract dtypes: column '{c.name}' "
                    f"({df.schema[c.name]}) cannot be {c.dtype} "
                    f"in {len(bad)} row(s), e.g. {self._sample(bad)} "
                    f"values {json.dumps(bad[c.name].head(3).to_list(), default=str)}"
                )
        return SchemaViolation(f"{self.name}: cannot cast to the contract dtypes")

    def _require_rules(self, frame: pl.DataFrame) -> None:
        for name, met in self.rules:
            broken = frame.filter(met.fill_null(True).not_())
            if len(broken):
                raise SchemaViolation(
                    f"{self.name}: {len(broken)} row(s) break '{name}', e.g. {self._sample(broken)}"
                )

    def _sample(self, rows: pl.DataFrame, n: int = 5) -> list[dict]:
        """A few offending rows by their key (stock, date), for the error message."""
        columns = [c for c in self.key if c in rows.columns] or rows.columns[:2]
        return rows.select(columns).head(n).to_dicts()


def _f64(name: str, description: str, nullable: bool = True) -> Column:
    return Column(name, pl.Float64(), description, nullable)


ORDER_BOOK_ID = Column("order_book_id", pl.String(), "RQDatac code, e.g. 600000.XSHG", False)
DATE = Column("date", pl.Date(), "trading day of the partition", False)

INSTRUMENT_ATTRIBUTES = (
    Column("symbol", pl.String(), "short name"),
    Column("board", pl.Enum(BOARDS), "main / chinext / star / bse", False),
    Column("listed_date", pl.Date(), "first trading day", False),
    Column("de_listed_date", pl.Date(), "delisting day (exclusive); null while listed"),
    Column("is_st", pl.Boolean(), "under special treatment (ST/*ST) on this day", False),
    Column("is_suspended", pl.Boolean(), "suspended on this day, per the source (null: unknown)"),
)

INSTRUMENTS = TableSchema("instruments", (ORDER_BOOK_ID, DATE, *INSTRUMENT_ATTRIBUTES))

BAR_PRICES = (
    _f64("open", "unadjusted open, CNY"),
    _f64("high", "unadjusted high, CNY"),
    _f64("low", "unadjusted low, CNY"),
    _f64("close", "unadjusted close, CNY"),
    _f64("prev_close", "exchange reference price (ex-rights adjusted previous close)"),
    _f64("volume", "shares traded"),
    _f64("total_turnover", "CNY traded"),
    _f64("limit_up", "upper price limit of the day; null when unlimited"),
    _f64("limit_down", "lower price limit of the day; null when unlimited"),
)
ADJ_FACTOR = _f64(
    "adj_factor", "cumulative ex-dividend factor; price*adj_factor is back-adjusted", False
)

# What a source returns for daily bars (before the ex-factor join).
SOURCE_BARS = TableSchema("source_bars", (ORDER_BOOK_ID, DATE, *BAR_PRICES))

EX_FACTORS = TableSchema(
    "ex_factors",
    (
        ORDER_BOOK_ID,
        Column("ex_date", pl.Date(), "ex-dividend day", False),
        _f64("ex_cum_factor", "cumulative factor from this day on", False),
    ),
    key=("order_book_id", "ex_date"),
)

RAW_OHLCV = TableSchema("raw_ohlcv", (ORDER_BOOK_ID, DATE, *BAR_PRICES, ADJ_FACTOR))

COMPLETED_OHLCV = TableSchema(
    "completed_ohlcv",
    (
        ORDER_BOOK_ID,
        DATE,
        # Prices are null only for a stock with no traded bar in the source's history.
        *BAR_PRICES,
        ADJ_FACTOR,
        Column("is_filled", pl.Boolean(), "row was completed, not traded as reported", False),
        Column("fill_reason", pl.Enum(FILL_REASONS), "why the row was completed"),
        Column("last_traded_date", pl.Date(), "day of the last traded bar carried here"),
    ),
)

FUNDAMENTALS = TableSchema(
    "fundamentals",
    (
        ORDER_BOOK_ID,
        DATE,
        _f64("total_market_cap", "total market capitalisation, CNY"),
        _f64("float_market_cap", "free-float market capitalisation, CNY"),
        _f64("net_profit_ttm", "net profit attributable to parent, trailing twelve months"),
        _f64("total_equity", "equity attributable to parent, latest report"),
        _f64("revenue_ttm", "operating revenue, trailing twelve months"),
        Column("report_period", pl.Date(), "period end of the report used"),
        Column("announce_date", pl.Date(), "announcement day of the report used (<= date)"),
        _f64("source_pe_ttm", "the source's own PE TTM, when it provides one"),
        _f64("source_pb", "the source's own PB, when it provides one"),
    ),
)

# The indicators the package computes itself (transforms/technical.py).
BUILTIN_TECHNICAL = TableSchema(
    "technical_indicators",
    (
        ORDER_BOOK_ID,
        DATE,
        _f64("sma_5", "5-bar simple moving average of forward-adjusted close"),
        _f64("sma_10", "10-bar simple moving average"),
        _f64("sma_20", "20-bar simple moving average"),
        _f64("sma_60", "60-bar simple moving average"),
        _f64("rsi_14", "RSI(14), 通达信 convention; null when the window has no movement"),
        _f64("macd_dif", "EMA12 - EMA26 (EMAs seeded with the first bar)"),
        _f64("macd_dea", "EMA9 of macd_dif"),
        _f64("macd_hist", "2 * (macd_dif - macd_dea)"),
        _f64("return_20d", "close / close 20 traded bars ago - 1"),
        _f64("volatility_20d", "std (ddof=1) of the last 20 daily returns"),
        Column("traded_bars", pl.UInt32(), "traded bars in the window used", False),
    ),
)

FUNDAMENTAL_INDICATORS = TableSchema(
    "fundamental_indicators",
    (
        ORDER_BOOK_ID,
        DATE,
        _f64("pe_ttm", "total_market_cap / net_profit_ttm; null when profit <= 0"),
        _f64("pb", "total_market_cap / total_equity; null when equity <= 0"),
        _f64("roe_ttm", "net_profit_ttm / total_equity; null when equity <= 0"),
        _f64("ep", "net_profit_ttm / total_market_cap (defined for losses)"),
        _f64("bp", "total_equity / total_market_cap"),
    ),
)


BUILTIN_FACTORS = (
    "trend",
    "momentum",
    "macd",
    "rsi",
    "volatility",
    "value",
    "quality",
    "liquidity",
)

# Users' factors (plugins.py): columns of technical_indicators, fixed when the package loads
# (Dagster's decorators need the column schemas then: an import-time use of settings).
CUSTOM_FACTORS = plugins.discover_factors(
    taken={
        *(c.name for t in (COMPLETED_OHLCV, INSTRUMENTS, FUNDAMENTALS) for c in t.columns),
        *BUILTIN_TECHNICAL.names,
        *FUNDAMENTAL_INDICATORS.names,
        *BUILTIN_FACTORS,
        *(f"z_{f}" for f in BUILTIN_FACTORS),
        *("listed_trading_days", "withheld_reason", "is_eligible", "ineligible_reason"),
        *("composite", "rank", "percentile", "score", "level", "code"),
    },
    modules_setting=settings.factor_modules(),
)
TECHNICAL_INDICATORS = TableSchema(
    "technical_indicators",
    (
        *BUILTIN_TECHNICAL.columns[:-1],
        *(
            Column(f.name, f.dtype(), f.description or f"plug-in factor, {f.origin}")
            for f in CUSTOM_FACTORS
        ),
        BUILTIN_TECHNICAL.columns[-1],  # traded_bars stays last
    ),
)


def _without_key(schema: TableSchema) -> tuple[Column, ...]:
    return tuple(c for c in schema.columns if c.name not in schema.key)


MERGED = TableSchema(
    "merged",
    (
        ORDER_BOOK_ID,
        DATE,
        *INSTRUMENT_ATTRIBUTES,
        Column("listed_trading_days", pl.UInt32(), "trading days since listing, this day included"),
        *_without_key(COMPLETED_OHLCV),
        *_without_key(FUNDAMENTALS),
        *_without_key(TECHNICAL_INDICATORS)[:-1],
        Column("traded_bars", pl.UInt32(), "traded bars in the indicator window"),
        *_without_key(FUNDAMENTAL_INDICATORS),
        Column(
            "withheld_reason",
            pl.String(),
            "rule this stock-day failed (quality.py); withheld from scores; null when sound",
        ),
    ),
)

# Factors of the composite score: the built-ins, then users' factors given a weight.
FACTORS = BUILTIN_FACTORS + tuple(f.name for f in CUSTOM_FACTORS if f.score_weight > 0)

SCORES = TableSchema(
    "scores",
    (
        ORDER_BOOK_ID,
        DATE,
        Column("is_eligible", pl.Boolean(), "scored today (see ineligible_reason)", False),
        Column("ineligible_reason", pl.Enum(INELIGIBLE_REASONS), "first rule excluding it"),
        *(
            _f64(f"z_{f}", f"{f} factor: winsorized cross-sectional z-score among eligible")
            for f in FACTORS
        ),
        _f64("composite", "weighted mean of the available factor z-scores"),
        Column("rank", pl.UInt32(), "1 = best composite of the day (ties: order_book_id)"),
        _f64("percentile", "(n - rank) / (n - 1): 1 = best, 0 = worst of the day"),
        _f64("score", "100 * percentile"),
        Column("level", pl.Enum(LEVELS), "band of score: 85 / 70 / 55 / 40"),
    ),
    rules=(
        ("0 <= score <= 100", pl.col("score").is_between(0.0, 100.0)),
        ("only eligible stocks scored", pl.col("is_eligible") | pl.col("score").is_null()),
        (
            "eligible exactly when no ineligible_reason",
            pl.col("is_eligible") == pl.col("ineligible_reason").is_null(),
        ),
    ),
)


# Every table above, by asset name: what the IO layer conforms each partition to
# (technical_indicators with users' factors, not its built-in part).
TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in list(globals().values())
    if isinstance(t, TableSchema) and t is not BUILTIN_TECHNICAL
}

RUN_OUTCOMES = ("success", "failure", "canceled", "running")

# One row per run and step (health/; step_key RUN_ROW for a run that recorded no step). Not an
# asset's partition table, so defined after TABLES.
RUN_HEALTH = TableSchema(
    "run_health",
    (
        Column("run_id", pl.String(), "Dagster run id", False),
        Column("step_key", pl.String(), "step (one asset, or several of a multi-asset)", False),
        Column("job_name", pl.String(), "job of the run (__ASSET_JOB: an ad-hoc selection)"),
        Column("run_outcome", pl.Enum(RUN_OUTCOMES), "how the run ended", False),
        Column("step_outcome", pl.String(), "Dagster's step status (SUCCESS, FAILURE, ...)"),
        Column("started_at", pl.Datetime("us", "UTC"), "step start"),
        Column("ended_at", pl.Datetime("us", "UTC"), "step end"),
        _f64("wall_s", "step wall-clock seconds"),
        _f64("cpu_s", "process CPU seconds (all threads) during the step"),
        Column("rows_read", pl.Int64(), "rows of the partitions the step loaded as inputs"),
        Column("rows_written", pl.Int64(), "rows of the Parquet partitions the step wrote"),
        _f64("rows_per_s", "rows_written / wall_s"),
        _f64("peak_rss_mib", "largest resident memory of the run's process during the step"),
        Column("first_partition", pl.String(), "first partition key of the run"),
        Column("last_partition", pl.String(), "last partition key of the run"),
        Column("partitions", pl.Int64(), "partition keys the run targets"),
        Column("recorded_by", pl.String(), "run (measured in the run) or sensor (outcome only)"),
    ),
    key=("run_id", "step_key"),
)

# Every folder of the partition store, with the contract its files are written to.
HEALTH_FOLDER = "_health"
FOLDERS: dict[str, TableSchema] = {**TABLES, HEALTH_FOLDER: RUN_HEALTH}
