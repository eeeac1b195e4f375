"""Per-partition asset checks: thin Dagster wiring around the rules in `quality.py`.

Each asset gets one check op (loading its partitions once) declaring several checks, all
with the assets' partitions definition, so a check reads only the partitions being
materialized (DESIGN §6). Checks guarding data that flows downstream are blocking: an
ERROR failure stops `merged`, `scores` and `scores_table` in the same run. In a
single-run range the op sees every partition of the range and reports one result per
check, naming the failing partitions in its metadata.
"""

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import polars as pl

from stockmonitor_assets import quality, settings
from stockmonitor_assets.assets.partitions import PartitionFrames, split_by_day
from stockmonitor_assets.trading_calendar import (
    partition_date,
    sessions_through,
    trading_day_partitions,
)

# (partition key, the asset's frame, the other inputs) -> verdict
Evaluate = Callable[[str, pl.DataFrame, Mapping[str, PartitionFrames]], quality.Outcome]

# Sessions of completed bars the SMA range check loads: twice the longest SMA.
SMA_HISTORY_DAYS = 2 * max(quality.SMA_LENGTHS)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    evaluate: Evaluate
    blocking: bool = True
    # A row rule judges each row on its own (schema, key, value ranges): it holds on a
    # range exactly when it holds on every day of it, so a range is judged in one call.
    row_rule: bool = False


def checks_for(
    asset: str, rules: Sequence[Rule] = (), ins: Mapping[str, dg.AssetIn] | None = None
) -> dg.AssetChecksDefinition:
    """Contract checks (schema, unique key) plus `rules`, run together on one load of `asset`."""
    table = quality.TABLES[asset]
    contract = [
        Rule(
            "schema",
            f"columns and dtypes of {asset} as in schemas.py",
            _on(_schema(table)),
            row_rule=True,
        ),
        Rule("unique_key", f"one row per {list(table.key)}", _on(_unique(table)), row_rule=True),
    ]
    rules, ins = [*contract, *rules], dict(ins or {})
    deps = [dg.AssetDep(i.key, partition_mapping=i.partition_mapping) for i in ins.values()]
    specs = [_spec(asset, rule, deps) for rule in rules]

    @dg.multi_asset_check(
        name=f"{asset}_checks", specs=specs, ins={asset: dg.AssetIn(asset), **ins}
    )
    def _checks(context: dg.AssetCheckExecutionContext, **inputs):
        keys = list(context.partition_keys)
        frames = {name: _by_partition(value, keys) for name, value in inputs.items()}
        for rule in rules:
            yield _result(asset, rule, quality.combine(_evaluate(rule, frames[asset], frames)))

    return _checks


def _evaluate(
    rule: Rule, days: PartitionFrames, inputs: Mapping[str, PartitionFrames]
) -> dict[str, quality.Outcome]:
    """The rule's verdict per partition.

    A row rule first runs once on the stacked range (pandera costs ~3 ms a call, ~7 s over
    a year of 9 assets): if the range passes, every day passes with its own row count;
    otherwise (or if the days cannot stack) each day is judged on its own, as before.
    """
    if rule.row_rule and len(days) > 1:
        with contextlib.suppress(pl.exceptions.PolarsError):
            whole = rule.evaluate("", pl.concat(days.values()), inputs)
            if whole.passed:
                return {k: quality.passing(len(f), whole.description) for k, f in days.items()}
    return {k: rule.evaluate(k, frame, inputs) for k, frame in days.items()}


def _spec(asset: str, rule: Rule, deps: list[dg.AssetDep]) -> dg.AssetCheckSpec:
    with _partitioned_checks_preview():
        return dg.AssetCheckSpec(
            rule.name,
            asset=asset,
            additional_deps=deps,
            description=rule.description,
            blocking=rule.blocking,
            partitions_def=trading_day_partitions,
        )


@contextlib.contextmanager
def _partitioned_checks_preview() -> Iterator[None]:
    """Partitioned checks are "preview" in 1.13; they are what makes checks per partition."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        yield


def _result(asset: str, rule: Rule, outcome: quality.Outcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=rule.name,
        passed=outcome.passed,
        metadata=outcome.metadata,
        description=outcome.description,
        severity=dg.AssetCheckSeverity.ERROR if rule.blocking else dg.AssetCheckSeverity.WARN,
    )


def _by_partition(value: object, keys: list[str]) -> PartitionFrames:
    """The IO manager hands a one-key input over as a bare frame; always use a dict."""
    if isinstance(value, Mapping):
        return {k: _eager(v) for k, v in value.items()}
    return {keys[0]: _eager(value)} if value is not None else {}


def _eager(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def _on(rule: Callable[[pl.DataFrame], quality.Outcome]) -> Evaluate:
    return lambda key, frame, inputs: rule(frame)


def _schema(table: quality.TableSchema) -> Callable[[pl.DataFrame], quality.Outcome]:
    return lambda frame: quality.check_schema(frame, table)


def _unique(table: quality.TableSchema) -> Callable[[pl.DataFrame], quality.Outcome]:
    return lambda frame: quality.check_unique_key(frame, table)


def _coverage(env: str, default: float, what: str) -> Evaluate:
    def evaluate(key: str, frame: pl.DataFrame, inputs: Mapping[str, PartitionFrames]):
        share = settings.float_setting(env, default)
        return quality.check_coverage(frame, inputs["instruments"][key], share, what)

    return evaluate


def _completion(key: str, frame: pl.DataFrame, inputs: Mapping[str, PartitionFrames]):
    return quality.check_completion(
        frame,
        sessions_through(partition_date(key)),
        settings.float_setting(settings.MAX_FILLED_SHARE, settings.DEFAULT_MAX_FILLED_SHARE),
        settings.int_setting(settings.MAX_GAP_DAYS, settings.DEFAULT_MAX_GAP_DAYS),
    )


def _source_ratios(key: str, frame: pl.DataFrame, inputs: Mapping[str, PartitionFrames]):
    tolerance = settings.float_setting(settings.RATIO_TOLERANCE, settings.DEFAULT_RATIO_TOLERANCE)
    return quality.check_source_ratios(frame, inputs["fundamentals"][key], tolerance)


def _scores(key: str, frame: pl.DataFrame, inputs: Mapping[str, PartitionFrames]):
    return quality.check_scores(frame)


def _prices(key: str, frame: pl.DataFrame, inputs: Mapping[str, PartitionFrames]):
    return quality.check_prices(frame)


INSTRUMENTS_IN = {"instruments": dg.AssetIn("instruments")}
UNIVERSE_COVERAGE = Rule(
    "universe_coverage",
    f"share of listed stocks present >= {settings.MIN_COVERAGE} (default "
    f"{settings.DEFAULT_MIN_COVERAGE})",
    _coverage(settings.MIN_COVERAGE, settings.DEFAULT_MIN_COVERAGE, "a row"),
)

instruments_checks = checks_for("instruments")
raw_ohlcv_checks = checks_for(
    "raw_ohlcv",
    [
        Rule(
            "bar_coverage",
            f"share of listed stocks with a bar >= {settings.MIN_BAR_COVERAGE} (warning)",
            _coverage(settings.MIN_BAR_COVERAGE, settings.DEFAULT_MIN_BAR_COVERAGE, "a bar"),
            blocking=False,
        )
    ],
    INSTRUMENTS_IN,
)
completed_ohlcv_checks = checks_for(
    "completed_ohlcv",
    [
        UNIVERSE_COVERAGE,
        Rule(
            "prices",
            "OHLC ordered, volume/turnover >= 0, close within limits",
            _prices,
            row_rule=True,
        ),
        Rule(
            "completion",
            "share of filled rows and longest carried gap within bounds (warning)",
            _completion,
            blocking=False,
        ),
    ],
    INSTRUMENTS_IN,
)
fundamentals_checks = checks_for("fundamentals")
technical_indicators_checks = checks_for("technical_indicators")
fundamental_indicators_checks = checks_for(
    "fundamental_indicators",
    [
        Rule(
            "source_ratios",
            "PE TTM and PB agree with the source's own ratios (warning)",
            _source_ratios,
            blocking=False,
        )
    ],
    {"fundamentals": dg.AssetIn("fundamentals")},
)
merged_checks = checks_for("merged", [UNIVERSE_COVERAGE], INSTRUMENTS_IN)
scores_checks = checks_for(
    "scores",
    [
        Rule(
            "score_ranges",
            "0 <= score <= 100, only eligible stocks scored",
            _scores,
            row_rule=True,
        )
    ],
)


INDICATOR_RANGES = Rule(
    "indicator_ranges",
    "RSI in [0, 100]; each SMA_n within [min, max] of its last n adjusted closes",
    lambda key, bounded, inputs: quality.check_bounded_indicators(bounded),
    row_rule=True,
)


def _indicator_ranges_check(
    context: dg.AssetCheckExecutionContext,
    technical_indicators: PartitionFrames,
    history: PartitionFrames,
) -> dg.AssetCheckResult:
    # Bounds over the same SMA_HISTORY_DAYS window a one-day run loads, so a range judges
    # each day alike; computed for the whole range at once, then judged per day.
    keys = list(context.partition_keys)
    history_frame = pl.concat(
        [quality.TABLES["completed_ohlcv"].empty(), *history.values()], how="vertical_relaxed"
    )
    indicators = pl.concat([technical_indicators[k] for k in keys])
    bounded = quality.with_sma_bounds(indicators, history_frame, SMA_HISTORY_DAYS)
    by_day = split_by_day(bounded, [partition_date(k) for k in keys])
    return _result(
        "technical_indicators",
        INDICATOR_RANGES,
        quality.combine(_evaluate(INDICATOR_RANGES, by_day, {})),
    )


with _partitioned_checks_preview():
    indicator_ranges = dg.asset_check(
        asset="technical_indicators",
        name=INDICATOR_RANGES.name,
        description=INDICATOR_RANGES.description,
        blocking=True,
        partitions_def=trading_day_partitions,
        additional_ins={
            # AssetDep cannot carry `allow_missing_partitions`, so this is its own check op.
            "history": dg.AssetIn(
                "completed_ohlcv",
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-(SMA_HISTORY_DAYS - 1), end_offset=0
                ),
                metadata={"allow_missing_partitions": True},
            )
        },
    )(_indicator_ranges_check)


ASSET_CHECKS = [
    instruments_checks,
    raw_ohlcv_checks,
    completed_ohlcv_checks,
    fundamentals_checks,
    technical_indicators_checks,
    indicator_ranges,
    fundamental_indicators_checks,
    merged_checks,
    scores_checks,
]
