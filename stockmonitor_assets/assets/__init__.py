"""The assets. Importing any of their modules defines them all, here, so that Dagster's notice
that `backfill_policy` is beta (every asset has one: a range in one run) is silenced while
our assets are defined and nowhere else: the rest of the process keeps Dagster's notices."""

import importlib
import pkgutil
import warnings

import dagster as dg

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r".*`backfill_policy`.* is currently in beta", category=dg.BetaWarning
    )
    for _module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{_module.name}")
