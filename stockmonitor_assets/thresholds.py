"""The data-quality thresholds, as one typed resource: visible in the UI, set once.

Built from `settings_resource.Settings` when the code location loads (`thresholds_from`), shown on
the UI's resource page, and overridable per run in run config
(`resources: {quality: {config: {min_bar_coverage: 0.8}}}`). Every rule reads its
threshold from here, at one moment: never the environment at import or mid-run.

A threshold away from its documented default is a `Departure`, weaker or stricter: what a
run used is recorded with its materializations and checks, and a weaker one tags the run
(`assets/rules.py`), so a run that passed only because its checks were loosened says so.
"""

from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from stockmonitor_assets import settings, settings_resource
from stockmonitor_assets.quality import FLOAT_TOLERANCE

# The thresholds set by the environment (float_tolerance is not).
THRESHOLD_SETTINGS = ("min_bar_coverage", "max_filled_share", "max_gap_days", "ratio_tolerance")
# Each threshold, and whether raising it loosens its rule (lets more data through).
LOOSER_WHEN_HIGHER = {
    "min_bar_coverage": False,
    "max_filled_share": True,
    "max_gap_days": True,
    "ratio_tolerance": True,
    "float_tolerance": True,
}


@dataclass(frozen=True)
class Departure:
    """A threshold a run used that is not its documented default."""

    name: str
    value: float
    default: float

    @property
    def is_weaker(self) -> bool:
        return (self.value > self.default) == LOOSER_WHEN_HIGHER[self.name]

    def __str__(self) -> str:
        strength = "weaker" if self.is_weaker else "stricter"
        return f"{self.name}={self.value:g} (default {self.default:g}, {strength})"


class QualityThresholds(dg.ConfigurableResource):
    """Thresholds of the data-quality rules and checks (docs/data-rules.md); types, bounds
    and defaults are those of `settings_resource.Settings`."""

    min_bar_coverage: settings.Share = Field(
        default=settings_resource.default("min_bar_coverage"),
        description="a day whose source delivered bars for fewer listed stocks is withheld",
    )
    max_filled_share: settings.Share = Field(
        default=settings_resource.default("max_filled_share"),
        description="the completion check fails above this share of filled rows",
    )
    max_gap_days: settings.GapDays = Field(
        default=settings_resource.default("max_gap_days"),
        description="the completion check fails when a close is carried longer (trading days)",
    )
    ratio_tolerance: settings.Share = Field(
        default=settings_resource.default("ratio_tolerance"),
        description="relative gap allowed between our PE/PB and the source's own",
    )
    float_tolerance: float = Field(
        default=FLOAT_TOLERANCE,
        ge=0.0,
        le=1e-3,
        description="relative slack of every row rule comparing computed floats",
    )

    def values(self) -> dict[str, float]:
        """Every threshold by name: what a run used."""
        return {name: getattr(self, name) for name in LOOSER_WHEN_HIGHER}

    def departures(self, names: tuple[str, ...] | None = None) -> list[Departure]:
        """The thresholds (of `names`, default all) that differ from their defaults."""
        fields = type(self).model_fields
        return [
            Departure(name, getattr(self, name), fields[name].default)
            for name in names or tuple(LOOSER_WHEN_HIGHER)
            if getattr(self, name) != fields[name].default
        ]


def thresholds_from(config: settings_resource.Settings) -> QualityThresholds:
    """The thresholds the settings give (STOCKMONITOR_MIN_BAR_COVERAGE, ...)."""
    return QualityThresholds(**{name: getattr(config, name) for name in THRESHOLD_SETTINGS})
