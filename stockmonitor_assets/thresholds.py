"""The data-quality thresholds, as one typed resource: visible in the UI, set once.

Read from the environment when the code location loads (`thresholds_from_env`), shown on
the UI's resource page, and overridable per run in run config
(`resources: {quality: {config: {min_bar_coverage: 0.8}}}`). Every rule reads its
threshold from here, at one moment: never `os.environ` at import or mid-run.
"""

import dagster as dg
from pydantic import Field

from stockmonitor_assets import settings
from stockmonitor_assets.quality import FLOAT_TOLERANCE


class QualityThresholds(dg.ConfigurableResource):
    """Thresholds of the data-quality rules and checks (docs/data-rules.md)."""

    min_bar_coverage: float = Field(
        default=settings.DEFAULT_MIN_BAR_COVERAGE,
        ge=0.0,
        le=1.0,
        description="a day whose source delivered bars for fewer listed stocks is withheld",
    )
    max_filled_share: float = Field(
        default=settings.DEFAULT_MAX_FILLED_SHARE,
        ge=0.0,
        le=1.0,
        description="the completion check fails above this share of filled rows",
    )
    max_gap_days: int = Field(
        default=settings.DEFAULT_MAX_GAP_DAYS,
        ge=1,
        description="the completion check fails when a close is carried longer (trading days)",
    )
    ratio_tolerance: float = Field(
        default=settings.DEFAULT_RATIO_TOLERANCE,
        ge=0.0,
        le=1.0,
        description="relative gap allowed between our PE/PB and the source's own",
    )
    float_tolerance: float = Field(
        default=FLOAT_TOLERANCE,
        ge=0.0,
        le=1e-3,
        description="relative slack of every row rule comparing computed floats",
    )


def thresholds_from_env() -> QualityThresholds:
    """The thresholds the environment sets (STOCKMONITOR_MIN_BAR_COVERAGE, ...), else defaults."""
    return QualityThresholds(
        min_bar_coverage=settings.float_setting(
            settings.MIN_BAR_COVERAGE, settings.DEFAULT_MIN_BAR_COVERAGE
        ),
        max_filled_share=settings.float_setting(
            settings.MAX_FILLED_SHARE, settings.DEFAULT_MAX_FILLED_SHARE
        ),
        max_gap_days=settings.int_setting(settings.MAX_GAP_DAYS, settings.DEFAULT_MAX_GAP_DAYS),
        ratio_tolerance=settings.float_setting(
            settings.RATIO_TOLERANCE, settings.DEFAULT_RATIO_TOLERANCE
        ),
    )
