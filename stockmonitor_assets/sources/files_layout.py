"""Reading the files layout: tables, vendor column aliases, typing, and problems found.

Every defect is collected as a `Problem` (file, column, count, the stock-days concerned)
instead of raising at the first one, so one read reports everything wrong in every file.
`docs/files-source.md` is the user's description of the layout.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from stockmonitor_assets import settings
from stockmonitor_assets.schemas import EX_FACTORS, FUNDAMENTALS, INSTRUMENTS, SOURCE_BARS
from stockmonitor_assets.sources.base import SourceError
from stockmonitor_assets.transforms.codes import InvalidStockCodeError, normalize_order_book_id

ROWS_NAMED = 20  # stock-days named per problem
PROBLEMS_PER_FILE = 20

TYPES = {
    **INSTRUMENTS.polars_schema,
    **SOURCE_BARS.polars_schema,
    **EX_FACTORS.polars_schema,
    **FUNDAMENTALS.polars_schema,
    "is_trading": pl.Boolean(),
    "volume_unit": pl.String(),
    "adjust_flag": pl.String(),
}
REPORT_VALUES = ("net_profit_ttm", "total_equity", "revenue_ttm")
CAP_VALUES = ("total_market_cap", "float_market_cap", "source_pe_ttm", "source_pb")
_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}
_DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d")

# Vendor spellings accepted for a layout column (baostock, tushare and similar exports).
ALIASES = {
    "code": "order_book_id",
    "ts_code": "order_book_id",
    "trade_date": "date",
    "preclose": "prev_close",
    "pre_close": "prev_close",
    "amount": "total_turnover",
    "tradestatus": "is_trading",
    "isST": "is_st",
    "is_ST": "is_st",
    "adjustflag": "adjust_flag",
    "code_name": "symbol",
    "ipoDate": "listed_date",
    "outDate": "de_listed_date",
}
UNADJUSTED_FLAG = "3"  # baostock's adjustflag for unadjusted prices


class SourceFileError(SourceError):
    """User-supplied files break the documented layout; the message names every problem."""

    def __init__(self, problems: "Iterable[Problem] | str"):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(_report(self.problems))


@dataclass(frozen=True)
class Problem:
    """One defect: `file: text` plus up to ROWS_NAMED stock-days where it occurs."""

    file: str
    text: str
    count: int = 1
    rows: tuple[str, ...] = ()
    column: str = ""
    kind: str = ""  # "cast": its cells were set to null, so their emptiness is not news

    def __str__(self) -> str:
        if not self.rows:
            return f"{self.file}: {self.text}"
        more = self.count - len(self.rows)
        where = ", ".join(self.rows) + (f" (+{more} more)" if more > 0 else "")
        return f"{self.file}: {self.text} at {where}"


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
    marked: tuple[str, ...] = ()  # optional columns whose presence per file is kept (_given_*)

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
    ("prev_close", "total_turnover", "limit_up", "limit_down")
    + ("is_suspended", "is_trading", "is_st", "volume_unit", "adjust_flag"),
    key=("order_book_id", "date"),
    non_negative=tuple(SOURCE_BARS.names[2:]),
    marked=("limit_up", "limit_down"),
)
EX_FACTORS_TABLE = Table(
    "ex_factors", tuple(EX_FACTORS.names), key=EX_FACTORS.key, positive=("ex_cum_factor",)
)
FUNDAMENTALS_TABLE = Table(
    "fundamentals",
    ("order_book_id", "report_period", "announce_date"),
    REPORT_VALUES,
    key=("order_book_id", "report_period", "announce_date"),
)
MARKET_CAPS_TABLE = Table(
    "market_caps", ("order_book_id", "date"), CAP_VALUES, key=("order_book_id", "date")
)
TRADING_DAYS_TABLE = Table("trading_days", ("date",), key=("date",))


@dataclass(frozen=True)
class FileLimits:
    """Per file of the files source: a file over either is refused by name before it is
    read (memory follows rows, not bytes: a 116 KB Parquet of 5 M rows took 893 MiB)."""

    max_rows: int = settings.DEFAULT_FILES_MAX_ROWS
    max_mb: int = settings.DEFAULT_FILES_MAX_MB


DEFAULT_LIMITS = FileLimits()


def read_table(
    path: Path | None, table: Table, limits: FileLimits
) -> tuple[pl.DataFrame, list[Problem]]:
    """The file's rows in contract dtypes, with a `_file` column, and what is wrong with it.

    Cells that cannot be cast become null (and are reported); absent optional columns get
    the table's defaults. An unreadable file or missing required column yields no rows.
    """
    if path is None:
        return empty(table), []
    over = over_limit(path, limits)
    if over is not None:
        return empty(table), [over]
    try:
        frame = (
            pl.read_csv(path, infer_schema=False)
            if path.suffix == ".csv"
            else (pl.read_parquet(path))
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        return empty(table), [Problem(str(path), f"cannot be read: {exc}")]
    frame, problems = _renamed(frame, str(path))
    missing = [c for c in table.required if c not in frame.columns]
    if missing:
        return empty(table), [*problems, Problem(str(path), f"missing column(s) {missing}")]
    defaults = dict(table.defaults)
    columns = []
    for c in table.columns:
        if c not in frame.columns:
            default = pl.repeat(defaults.get(c), len(frame), dtype=TYPES[c], eager=True)
            columns.append(default.alias(c))
            continue
        cast, problem = _cast(frame, c, TYPES[c], str(path), table)
        columns.append(cast)
        problems += [problem] if problem else []
    typed = pl.DataFrame(columns).with_columns(
        _file=pl.lit(str(path)), **{f"_given_{c}": pl.lit(c in frame.columns) for c in table.marked}
    )
    if "order_book_id" in typed.columns:
        typed, problem = _normalized_codes(typed, str(path))
        problems += [problem] if problem else []
    return typed, problems


def over_limit(path: Path, limits: FileLimits) -> Problem | None:
    """The file's size or row count over `limits`, judged before reading it: Parquet's row
    count is in its footer; a CSV's is bounded by its size, then counted."""
    max_mb, max_rows = limits.max_mb, limits.max_rows
    advice = "split it (bars/ takes any number of files) or raise"
    size = path.stat().st_size
    if size > max_mb * 1_000_000:
        text = f"{size / 1e6:,.1f} MB is over {settings.FILES_MAX_MB}={max_mb:,} MB"
        return Problem(str(path), f"{text} per file; {advice} it")
    rows = _row_count(path)
    if rows is not None and rows > max_rows:
        text = f"{rows:,} rows are over {settings.FILES_MAX_ROWS}={max_rows:,}"
        return Problem(str(path), f"{text} per file; {advice} it")
    return None


def _row_count(path: Path) -> int | None:
    """Rows in the file without loading it (None: unreadable, which the read reports)."""
    try:
        scan = (
            pl.scan_csv(path, infer_schema=False)
            if path.suffix == ".csv"
            else pl.scan_parquet(path)
        )
        return scan.select(pl.len()).collect().item()
    except (pl.exceptions.PolarsError, OSError):
        return None


def empty(table: Table) -> pl.DataFrame:
    schema = {c: TYPES[c] for c in table.columns} | {"_file": pl.String()}
    return pl.DataFrame(schema=schema | {f"_given_{c}": pl.Boolean() for c in table.marked})


def null_problems(frame: pl.DataFrame, table: Table, columns: Iterable[str], what: str):
    """One problem per file and column with empty cells in `columns`."""
    return [
        problem
        for c in columns
        for problem in _rows_problem(
            frame.filter(pl.col(c).is_null()), table, f"column '{c}' has", what
        )
    ]


def range_problems(frame: pl.DataFrame, table: Table) -> list[Problem]:
    """Negative values where the table wants >= 0, non-positive where it wants > 0."""
    problems = []
    for columns, rule in ((table.non_negative, pl.Expr.lt), (table.positive, pl.Expr.le)):
        for c in columns:
            bad = frame.filter(rule(pl.col(c), 0))
            problems += _rows_problem(
                bad, table, f"column '{c}' has", "out-of-range value(s)", example=c
            )
    return problems


def duplicate_problems(frame: pl.DataFrame, table: Table, where: str) -> list[Problem]:
    # Cheap check first (keys are usually unique): distinct key hashes mean distinct keys.
    hashes = [pl.col(k).hash(seed) for seed, k in enumerate(table.key)]
    hashed = frame.select(functools.reduce(lambda a, b: a.xor(b), hashes)).to_series()
    if hashed.n_unique() == len(frame):
        return []
    duplicated = frame.filter(pl.struct(table.key).is_duplicated())
    if duplicated.is_empty():
        return []
    labels = duplicated.select(_label(table).alias("label"), "_file")
    groups = labels.group_by("label", maintain_order=True).agg(pl.col("_file").unique().sort())
    rows = tuple(f"{label} in {files}" for label, files in groups.head(ROWS_NAMED).iter_rows())
    text = f"{len(duplicated)} rows share a key {list(table.key)}"
    return [Problem(where, text, len(groups), rows)]


def parse_dates(column: pl.Series) -> pl.Series:
    """ISO `YYYY-MM-DD`, or `YYYYMMDD` as tushare writes it; null where neither fits."""
    parsed = [column.str.to_date(f, strict=False) for f in _DATE_FORMATS]
    return pl.select(pl.coalesce(parsed)).to_series().alias(column.name)


def _rows_problem(
    bad: pl.DataFrame, table: Table, prefix: str, what: str, example: str | None = None
) -> list[Problem]:
    """Problems for the rows in `bad`, one per file, naming up to ROWS_NAMED stock-days."""
    problems = []
    for (file,), rows in bad.group_by("_file", maintain_order=True):
        hint = f", e.g. {rows[example][0]}" if example else ""
        labels = tuple(rows.select(_label(table)).to_series().head(ROWS_NAMED))
        text = f"{prefix} {len(rows)} {what}{hint}"
        problems.append(Problem(file, text, len(rows), labels, prefix.split("'")[1]))
    return problems


def without_echoes(problems: list[Problem]) -> list[Problem]:
    """Drops the 'empty value' problems of cells that were empty because they failed a cast."""
    cast = {(p.file, p.column) for p in problems if p.kind == "cast"}
    return [p for p in problems if p.kind == "cast" or (p.file, p.column) not in cast]


def _label(table: Table) -> pl.Expr:
    """`600000.XSHG 2024-01-05`: the row's key, as the message names it."""
    parts = [pl.col(k).cast(pl.String) for k in table.key]
    return pl.concat_str(parts, separator=" ", ignore_nulls=True)


def _labels(frame: pl.DataFrame, table: Table) -> pl.Series:
    """Row labels from the raw (uncast) key columns of `frame`, for cast problems."""
    present = [k for k in table.key if k in frame.columns]
    if not present:
        return pl.Series(["(no key column)"] * len(frame))
    return frame.select(
        pl.concat_str([pl.col(k).cast(pl.String) for k in present], separator=" ")
    ).to_series()


def _renamed(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, list[Problem]]:
    """Vendor aliases renamed to layout columns; both spellings present is a problem."""
    clash = [a for a, c in ALIASES.items() if a in frame.columns and c in frame.columns]
    if clash:
        both = [f"{a}/{ALIASES[a]}" for a in clash]
        return frame.drop(clash), [Problem(file, f"column(s) given twice: {both}; keep one")]
    return frame.rename({a: c for a, c in ALIASES.items() if a in frame.columns}), []


def _cast(
    frame: pl.DataFrame, name: str, dtype: pl.DataType, file: str, table: Table
) -> tuple[pl.Series, Problem | None]:
    column = frame[name]
    if column.dtype == pl.String and dtype == pl.Date:
        cast = parse_dates(column)
    elif column.dtype == pl.String and dtype == pl.Boolean:
        cast = (
            column.str.strip_chars()
            .str.to_lowercase()
            .replace_strict(_BOOLEAN_TEXT, default=None, return_dtype=pl.Boolean)
        )
    elif column.dtype == pl.String and dtype.is_numeric():
        cast = column.str.strip_chars().cast(dtype, strict=False)
    else:
        cast = column.cast(dtype, strict=False)
    failed = cast.is_null() & column.is_not_null()
    if column.dtype == pl.String:
        failed &= column.str.strip_chars() != ""
    cast = cast.alias(column.name)
    if not failed.any():
        return cast, None
    bad = column.filter(failed)
    rows = tuple(_labels(frame.filter(failed).head(ROWS_NAMED), table))
    text = f"column '{column.name}' has {len(bad)} value(s) that are not {dtype}, e.g. {bad[0]!r}"
    return cast, Problem(file, text, len(bad), rows, column.name, "cast")


def _normalized_codes(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, Problem | None]:
    """`sh.600000`, `600000.SH` -> `600000.XSHG`; unknown forms are reported, set to null."""
    mapping, bad = {}, []
    for code in frame["order_book_id"].drop_nulls().unique():
        try:
            mapping[code] = normalize_order_book_id(code)
        except InvalidStockCodeError:
            bad.append(code)
    if not bad and all(k == v for k, v in mapping.items()):
        return frame, None
    frame = frame.with_columns(
        pl.col("order_book_id").replace_strict(mapping, default=None, return_dtype=pl.String)
    )
    if not bad:
        return frame, None
    text = f"column 'order_book_id' has {len(bad)} code(s) that are not stock codes"
    named = tuple(sorted(bad)[:ROWS_NAMED])
    return frame, Problem(file, text, len(bad), named, "order_book_id", "cast")


def _report(problems: list) -> str:
    """Every problem, grouped by file, at most PROBLEMS_PER_FILE each."""
    if len(problems) == 1:
        return str(problems[0])
    by_file: dict[str, list] = {}
    for p in problems:
        by_file.setdefault(getattr(p, "file", ""), []).append(p)
    lines = [f"{len(problems)} problem(s) in {len(by_file)} file(s):"]
    for found in by_file.values():
        lines += [f"  - {p}" for p in found[:PROBLEMS_PER_FILE]]
        if len(found) > PROBLEMS_PER_FILE:
            lines.append(f"  - ... and {len(found) - PROBLEMS_PER_FILE} more in {found[0].file}")
    return "\n".join(lines)
