"""The asset checks, declared once: each runs inside its asset's own step (docs/data-rules.md).

Checks are not partitioned: a run records one verdict per check covering exactly the days it
wrote (failing days named in the metadata), which the UI shows as the check's state. None is
blocking: what must not be scored is withheld row by row in `merged`, so one bad stock-day
never stops the rest of a range.

Run config may change the `quality` thresholds for one run. What a step used is recorded in
its materializations (`quality_thresholds`) and in each check's metadata (`thresholds`); a
threshold weaker than its default tags the run (WEAKENED_TAG, naming the checks) and opens
each affected check's description, so a green check under loosened rules never looks like
one under the documented rules.
"""

from dataclasses import dataclass

import dagster as dg

from stockmonitor_assets.quality import Outcome
from stockmonitor_assets.thresholds import QualityThresholds

WEAKENED_TAG = "stockmonitor/weakened_checks"


@dataclass(frozen=True)
class CheckRule:
    name: str
    description: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN
    thresholds: tuple[str, ...] = ()  # the QualityThresholds fields its verdict depends on


COMPLETION_CHECK = CheckRule(
    "completion",
    "share of filled rows and longest carried gap within the quality thresholds",
    thresholds=("max_filled_share", "max_gap_days"),
)
SOURCE_RATIOS_CHECK = CheckRule(
    "source_ratios",
    "PE TTM and PB agree with the source's own ratios where it has them",
    thresholds=("ratio_tolerance",),
)
WITHHELD_CHECK = CheckRule(
    "withheld_stock_days",
    "no stock-day failed a row rule or sits on a day with too few bars (else: withheld from "
    "scores, listed in the metadata)",
    dg.AssetCheckSeverity.ERROR,
    thresholds=("min_bar_coverage", "float_tolerance"),
)
RULES = (COMPLETION_CHECK, SOURCE_RATIOS_CHECK, WITHHELD_CHECK)


def check_spec(asset: str, rule: CheckRule) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(rule.name, asset=asset, description=rule.description)


def record_thresholds(context: dg.AssetExecutionContext, quality: QualityThresholds) -> None:
    """Put the thresholds in this step's materializations; tag the run if any is weaker."""
    context.add_asset_metadata({"quality_thresholds": quality.values()})
    weakened = weakened_checks(quality)
    if weakened:
        context.instance.add_run_tags(context.run.run_id, {WEAKENED_TAG: weakened})
        context.log.warning(f"checks run under weaker than default thresholds: {weakened}")


def weakened_checks(quality: QualityThresholds) -> str:
    """Each check a weaker-than-default threshold loosens, with the thresholds ('' if none)."""
    parts = []
    for rule in RULES:
        weaker = [d for d in quality.departures(rule.thresholds) if d.is_weaker]
        if weaker:
            parts.append(f"{rule.name}: " + ", ".join(map(str, weaker)))
    return "; ".join(parts)


def check_result(rule: CheckRule, outcome: Outcome, quality: QualityThresholds):
    """The check's result, carrying the thresholds it was judged by; a description that
    opens with any departure from the defaults (weaker or stricter)."""
    departures = quality.departures(rule.thresholds)
    note = f"judged under non-default thresholds [{'; '.join(map(str, departures))}]: "
    thresholds = {name: quality.values()[name] for name in rule.thresholds}
    return dg.AssetCheckResult(
        check_name=rule.name,
        passed=outcome.passed,
        metadata={**outcome.metadata, "thresholds": thresholds},
        description=(note if departures else "") + outcome.description,
        severity=rule.severity,
    )
