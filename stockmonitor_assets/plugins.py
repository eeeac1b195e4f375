"""Users' own factors and market-data sources, registered the Python way (no Dagster import).

Factors come from the entry point group `stockmonitor.factors` of any installed package
(each entry point names a `Factor` or a list of them) and from the modules named by the
operator's STOCKMONITOR_FACTORS (comma-separated; each module defines `FACTORS`). Never
from run config: a factor adds columns to the contracts, which are fixed when the code
location loads. Sources come from the entry point group `stockmonitor.sources` (each names
a callable returning a `MarketDataSource`), selected with STOCKMONITOR_SOURCE=<name>.

Contract of a factor (docs/extending.md): it sees, for each day D and stock, the stock's last
`window` traded bars up to D (`order_book_id, date, close, volume`; close forward-adjusted
to D like the built-in indicators', volume in shares), and gives one value per stock. A
stock with fewer bars, or not traded on D, gets null.
"""

import functools
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata

import polars as pl

FACTOR_GROUP = "stockmonitor.factors"
SOURCE_GROUP = "stockmonitor.sources"
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
NUMERIC = (pl.Float64, pl.Float32, pl.Int64, pl.Int32)


class PluginError(ValueError):
    """A plug-in is malformed, failed or returned the wrong shape; the message names it."""


@dataclass(frozen=True)
class Factor:
    """A user's factor: a column of `technical_indicators` (and merged), optionally scored.

    Give either `expr`, a polars aggregation over one stock's window (e.g.
    `pl.col("close").last() / pl.col("close").max() - 1`), or `function`, which takes the
    window of every stock (one day) and returns a frame `order_book_id, <name>`.
    `score_weight` > 0 adds the factor to the composite score as `z_<name>`, with that
    weight (the built-ins' default weights sum to 1); `higher_is_better=False` flips it.
    """

    name: str
    window: int
    expr: pl.Expr | None = None
    function: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    dtype: type[pl.DataType] = pl.Float64
    description: str = ""
    score_weight: float = 0.0
    higher_is_better: bool = True
    origin: str = ""  # where it was registered (entry point or module), for messages

    @property
    def label(self) -> str:
        return f"factor plug-in '{self.name}' ({self.origin or 'unregistered'})"


def validate(factor: object, origin: str, taken: Iterable[str]) -> Factor:
    """`factor` as a well-formed Factor registered at `origin`, or PluginError."""
    if not isinstance(factor, Factor):
        raise PluginError(f"factor plug-in {origin} gave {factor!r}, not a stockmonitor Factor")
    factor = Factor(**{**factor.__dict__, "origin": origin})
    problems = []
    if not NAME.match(factor.name):
        problems.append("name must be snake_case ([a-z][a-z0-9_]*)")
    if factor.name in set(taken):
        problems.append("name is already a column of the pipeline or another plug-in")
    if (factor.expr is None) == (factor.function is None):
        problems.append("give exactly one of expr and function")
    if not isinstance(factor.window, int) or factor.window < 1:
        problems.append(f"window must be a positive integer, got {factor.window!r}")
    if factor.dtype not in NUMERIC:
        problems.append(f"dtype must be one of {[str(t) for t in NUMERIC]}")
    if not isinstance(factor.score_weight, int | float) or not factor.score_weight >= 0:
        problems.append(f"score_weight must be a number >= 0, got {factor.score_weight!r}")
    if problems:
        raise PluginError(f"{factor.label}: " + "; ".join(problems))
    return factor


def discover_factors(taken: Iterable[str], modules_setting: str | None) -> tuple[Factor, ...]:
    """Every registered factor, validated; `taken` are the built-in column names and
    `modules_setting` is STOCKMONITOR_FACTORS (comma-separated modules)."""
    found: list[tuple[object, str]] = []
    for entry in _entry_points(FACTOR_GROUP):
        origin = f"entry point {entry.name} = {entry.value}"
        found.extend((f, origin) for f in _as_list(_load(entry.load, origin)))
    modules = (m.strip() for m in (modules_setting or "").split(","))
    for module in filter(None, modules):
        origin = f"STOCKMONITOR_FACTORS module {module}"
        loaded = _load(lambda m=module: importlib.import_module(m), origin)
        if not hasattr(loaded, "FACTORS"):
            raise PluginError(f"factor plug-in {origin} defines no FACTORS list")
        found.extend((f, origin) for f in _as_list(loaded.FACTORS))
    names = set(taken)
    factors = []
    for factor, origin in found:
        factors.append(validate(factor, origin, names))
        names.add(factors[-1].name)
    return tuple(factors)


def source_factory(name: str) -> Callable[[], object] | None:
    """The callable registered as source `name` in `stockmonitor.sources`, if any."""
    for entry in _entry_points(SOURCE_GROUP):
        if entry.name == name:
            return _load(entry.load, f"source plug-in {name} ({entry.value})")
    return None


def source_names() -> list[str]:
    return sorted(e.name for e in _entry_points(SOURCE_GROUP))


@functools.cache
def _installed_entry_points() -> metadata.EntryPoints:
    """Every installed package's entry points, read once per process: a read scans every
    installed distribution (~50 ms with the test extras), and the code location asked three
    times (factors, the source's name, the source)."""
    return metadata.entry_points()


def _entry_points(group: str) -> metadata.EntryPoints:
    return _installed_entry_points().select(group=group)


def _load(load: Callable[[], object], origin: str) -> object:
    try:
        return load()
    except Exception as error:  # any import-time failure of the user's code, named
        raise PluginError(f"{origin} failed to load: {type(error).__name__}: {error}") from error


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]
