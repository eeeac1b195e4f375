"""What a run asks for: which partitions, and which run config; the rules every door obeys.

Pure functions over the calendar and the config classes, so every bad input fails here,
with a message naming it, before anything is written: `stockmonitor run` applies them
before it asks Dagster for a run, and the code location's executor (guards.py) applies
them to every run, whichever door launched it (UI, backfill, `dagster asset materialize`,
`dagster job launch`, the daemon).
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stockmonitor_assets.jobs import SYNC_ASSETS
from stockmonitor_assets.trading_calendar import (
    PARTITIONS_START,
    latest_partition_day,
    parse_trading_day,
    recent_range,
    sessions,
    shanghai_now,
)
from stockmonitor_assets.transforms import scoring
from stockmonitor_assets.transforms.codes import normalize_order_book_ids

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Run config may set the quality thresholds (a resource); every other resource is fixed by
# the environment (resources.py), whichever assets the run selects.
CONFIGURABLE_RESOURCES = ("quality",)

# The assets whose config takes `target_stocks` (each merges its refreshed rows into the
# stored day: transforms/subset.py).
TARGET_ASSETS = SYNC_ASSETS
# --config keys, and the asset whose config each one sets.
CONFIG_KEYS = {
    "target_stocks": "instruments",
    "days_back": None,  # a partition selection, not asset config
    **{f"weights.{factor}": "scores" for factor in scoring.FACTORS},
}


# The words users of the original `run_jobs.py` type, and the jobs they mean.
JOB_ALIASES = {
    "sync": "daily_data_sync_job",
    "completion": "data_completion_job",
    "calculation": "indicator_calculation_job",
    "scoring": "scoring_and_save_job",
    "full": "daily_full_pipeline_job",
}


class RunRequestError(ValueError):
    """A bad `stockmonitor run` argument; the message names it."""


def resolve_job_name(name: str, job_names: Sequence[str]) -> str:
    """A job name, or one of the original script's words for it (`sync`, `full`, ...)."""
    resolved = JOB_ALIASES.get(name.strip().lower(), name.strip())
    if resolved not in job_names:
        words = ", ".join(f"{word} ({job})" for word, job in JOB_ALIASES.items())
        raise RunRequestError(f"unknown job {name!r}; jobs: {', '.join(job_names)}; or {words}")
    return resolved


def target_stocks(overrides: dict[str, str]) -> list[str]:
    """The normalized `target_stocks` of the overrides ([] when not given)."""
    codes = [c for c in overrides.get("target_stocks", "").split(",") if c.strip()]
    try:
        return normalize_order_book_ids(codes)
    except ValueError as exc:
        raise RunRequestError(f"target_stocks: {exc}") from None


def unknown_targets(
    targets: Sequence[str], days: Sequence[dt.date], listed_on: Callable[[dt.date], set[str]]
) -> list[str]:
    """Targets listed on none of `days`, per the source: the one listing rule of the CLI, the
    run guard and the `instruments` asset.

    Asks for the first and last day, and only when a code is on neither, for every day
    between: the common case costs two source calls.
    """
    remaining = set(targets)
    ends = [days[0], days[-1]] if days else []
    for day in [*dict.fromkeys(ends), *days[1:-1]]:
        if not remaining:
            break
        remaining -= listed_on(day)
    return sorted(remaining)


def listed_codes(source) -> Callable[[dt.date], set[str]]:
    """`day -> the codes a source (anything with `instruments(day)`) lists that day`."""
    return lambda day: set(source.instruments(day)["order_book_id"].to_list())


def require_listed(
    targets: Sequence[str],
    days: Sequence[dt.date],
    listed_on: Callable[[dt.date], set[str]],
    source_name: str,
) -> None:
    """Refuse target stocks the source lists on no day of the run (a typo, not an empty day)."""
    unknown = unknown_targets(targets, days, listed_on) if targets and days else []
    if unknown:
        span = f"{days[0]}" if days[0] == days[-1] else f"any day of {days[0]}..{days[-1]}"
        raise RunRequestError(
            f"target stock(s) {unknown} are not listed at source {source_name!r} on {span}; "
            "nothing was written"
        )


@dataclass(frozen=True)
class PartitionRange:
    first: dt.date
    last: dt.date
    days: tuple[dt.date, ...]

    @property
    def is_single(self) -> bool:
        return self.first == self.last


def select_partitions(
    partition: str | None = None,
    start: str | None = None,
    end: str | None = None,
    days_back: int | None = None,
    now: dt.datetime | None = None,
) -> PartitionRange:
    """One trading day, a start..end range, or the last `days_back` published days."""
    chosen = [
        name
        for name, v in (("--partition", partition), ("--start", start), ("--days-back", days_back))
        if v
    ]
    if len(chosen) > 1:
        raise RunRequestError(
            f"choose one of --partition, --start/--end, --days-back (got {chosen})"
        )
    if end and not start:
        raise RunRequestError("--end needs --start")
    if days_back is not None:
        return _days_back(days_back, now)
    if start:
        return _range(start, end or start, now)
    if partition:
        return _range(partition, partition, now)
    raise RunRequestError("say which days: --partition D, --start D --end D, or --days-back N")


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """`key=value` pairs; unknown keys fail naming the key and listing the valid ones."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep:
            raise RunRequestError(f"--config {pair!r} is not key=value")
        if key not in CONFIG_KEYS:
            raise RunRequestError(
                f"unknown config key {key!r}; valid keys: {', '.join(CONFIG_KEYS)}"
            )
        overrides[key] = value.strip()
    return overrides


def run_config(overrides: dict[str, str], job_assets: Sequence[str]) -> dict[str, Any]:
    """Dagster run config for the job's assets; values validated like the assets will."""
    ops: dict[str, dict[str, Any]] = {}
    if "target_stocks" in overrides:
        targets = target_stocks(overrides)
        # instruments always, so a job without it is told below to drop the key
        ops |= {
            asset: {"config": {"target_stocks": targets}}
            for asset in TARGET_ASSETS
            if asset in job_assets or asset == "instruments"
        }
    weights = {k.split(".", 1)[1]: _number(k, v) for k, v in overrides.items() if "." in k}
    if weights:
        try:
            scoring.validate_weights(weights)
        except ValueError as exc:
            raise RunRequestError(f"weights: {exc}") from None
        ops["scores"] = {"config": {"weights": weights}}
    unused = sorted(asset for asset in ops if asset not in job_assets)
    if unused:
        raise RunRequestError(f"this job does not materialize {unused}; drop their --config keys")
    return {"ops": ops} if ops else {}


def default_run_config(job_assets: Sequence[str]) -> dict[str, Any]:
    """The config a run of these assets uses when nothing is overridden (shown by show-config)."""
    ops: dict[str, dict[str, Any]] = {}
    ops |= {a: {"config": {"target_stocks": []}} for a in TARGET_ASSETS if a in job_assets}
    if "scores" in job_assets:
        ops["scores"] = {"config": {"weights": scoring.validate_weights({})}}
    return {"ops": ops}


def days_of_run(tags: Mapping[str, str], now: dt.datetime | None = None) -> PartitionRange | None:
    """The trading days a run's partition tags ask for (None for an unpartitioned run).

    A key that is not a session is refused, naming the nearest ones: Dagster's exclusions
    would otherwise map it onto a neighbouring session's partition.
    """
    if PARTITION_TAG in tags:
        return _range(tags[PARTITION_TAG], tags[PARTITION_TAG], now)
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start is None and end is None:
        return None
    if not start or not end:
        raise RunRequestError(f"a partition range needs both {RANGE_START_TAG} and {RANGE_END_TAG}")
    first, last = _day(start, now), _day(end, now)
    if first > last:
        raise RunRequestError(f"the partition range starts on {first}, after its end {last}")
    return PartitionRange(first, last, tuple(sessions(first, last)))


def targets_of_run_config(run_config: Mapping[str, Any]) -> list[str]:
    """The normalized `target_stocks` of a run's config, after refusing what no run may ask:
    configuring a fixed resource, or weights and stock codes the assets would reject."""
    fixed = sorted(set(run_config.get("resources") or {}) - set(CONFIGURABLE_RESOURCES))
    if fixed:
        raise RunRequestError(
            f"run config may not configure resource(s) {fixed}: they are fixed by the "
            "environment of the code location (docs/operations.md); nothing was written"
        )
    targets: set[str] = set()
    for asset, op in sorted((run_config.get("ops") or {}).items()):
        config = (op or {}).get("config") or {}
        if "target_stocks" in config:
            try:
                targets.update(normalize_order_book_ids(list(config["target_stocks"])))
            except (TypeError, ValueError) as exc:
                raise RunRequestError(f"{asset}.target_stocks: {exc}") from None
        if "weights" in config:
            try:
                scoring.validate_weights(config["weights"])
            except ValueError as exc:
                raise RunRequestError(f"{asset}.weights: {exc}") from None
    return sorted(targets)


def _range(first: str, last: str, now: dt.datetime | None) -> PartitionRange:
    a, b = _day(first, now), _day(last, now)
    if a > b:
        raise RunRequestError(f"--start {a} is after --end {b}")
    return PartitionRange(a, b, tuple(sessions(a, b)))


def _days_back(days: int, now: dt.datetime | None) -> PartitionRange:
    if days < 1:
        raise RunRequestError(f"--days-back must be >= 1, got {days}")
    try:
        first, last = recent_range(days, now)
    except ValueError:
        first = dt.date.min  # more sessions than the calendar knows
    if first < PARTITIONS_START:
        raise RunRequestError(f"--days-back {days} reaches before the first partition")
    return PartitionRange(first, last, tuple(sessions(first, last)))


def _day(value: str, now: dt.datetime | None) -> dt.date:
    try:
        day = parse_trading_day(value)
    except ValueError as exc:
        raise RunRequestError(str(exc)) from None
    today = (now or shanghai_now()).date()
    if day > today:
        raise RunRequestError(f"{day} is in the future (today is {today} in Asia/Shanghai)")
    if day > latest_partition_day(now):
        raise RunRequestError(
            f"{day} has no partition yet: a trading day's partition appears at 00:00 "
            "Asia/Shanghai after its session"
        )
    return day


def _number(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise RunRequestError(f"{key}={value!r} is not a number") from None
