"""The asset checks, declared once: each runs inside its asset's own step (docs/data-rules.md).

Checks are not partitioned: a run records one verdict per check covering exactly the days it
wrote (failing days named in the metadata), which the UI shows as the check's state. None is
blocking: what must not be scored is withheld row by row in `merged`, so one bad stock-day
never stops the rest of a range.
"""

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class CheckRule:
    name: str
    description: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.WARN


COMPLETION_CHECK = CheckRule(
    "completion", "share of filled rows and longest carried gap within the quality thresholds"
)
SOURCE_RATIOS_CHECK = CheckRule(
    "source_ratios", "PE TTM and PB agree with the source's own ratios where it has them"
)
WITHHELD_CHECK = CheckRule(
    "withheld_stock_days",
    "no stock-day failed a row rule or sits on a day with too few bars (else: withheld from "
    "scores, listed in the metadata)",
    dg.AssetCheckSeverity.ERROR,
)


def check_spec(asset: str, rule: CheckRule) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(rule.name, asset=asset, description=rule.description)


def severities(*rules: CheckRule) -> dict[str, dg.AssetCheckSeverity]:
    return {rule.name: rule.severity for rule in rules}
