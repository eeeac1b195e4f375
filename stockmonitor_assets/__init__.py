"""stockmonitor: a daily, trustworthy picture of the Chinese A-share market, built on Dagster."""

import warnings

# Single-run backfill policies are "beta" in Dagster 1.13; the warning would greet every load.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.* is currently in beta")
# Dagster's own parser of `--select '*'` calls a beta parameter; nothing of ours to act on.
warnings.filterwarnings("ignore", message=r".*`include_sources` of function `AssetSelection.all`")
