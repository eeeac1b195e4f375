"""The project's asset graph with empty bodies: what Dagster's events alone cost a run.

`dagster asset materialize -f bench/event_graph.py --select '*' --partition-range A...B`
builds, from `stockmonitor_assets.definitions`, one asset per project asset (same keys,
dependencies, trading-day partitions, single-run backfill policy and check specs) whose
body computes nothing: it attaches a small metadata dict to each partition (as the project
does) and passes its checks. Dagster then records the same kinds and counts of events as a
project run of the same range (a planned event and a materialization per asset and day,
one verdict per check), so its wall time, against a one-day run of the same graph, gives
the cost per event of Dagster's public API on an instance.
"""

import dagster as dg

from stockmonitor_assets import definitions

NULLS = dg.MetadataValue.json({})


def _trivial(spec: dg.AssetSpec, policy, checks: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=spec.key,
        deps=[dep.asset_key for dep in spec.deps],
        partitions_def=spec.partitions_def,
        backfill_policy=policy,
        check_specs=[dg.AssetCheckSpec(name, asset=spec.key) for name in checks],
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        for key in context.partition_keys:
            context.add_asset_metadata(
                {"dagster/row_count": 5000, "null_cells": 0, "null_counts": NULLS},
                partition_key=key,
            )
        return dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(check_name=name, passed=True) for name in checks]
        )

    return _asset


def _trivial_check(key: dg.AssetCheckKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key.asset_key, name=key.name)
    def _check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    return _check


def _mirror() -> tuple[list, list]:
    assets, checks = [], []
    project = definitions.defs
    for definition in project.assets or []:
        if not isinstance(definition, dg.AssetsDefinition) or not definition.is_executable:
            continue  # shown in the graph, never run (scores_table without DB_HOST, run_health)
        names = [c.name for c in definition.check_specs]
        for spec in definition.specs:
            assets.append(_trivial(spec, definition.backfill_policy, names))
    for definition in project.asset_checks or []:
        checks += [_trivial_check(key) for key in definition.check_keys]
    return assets, checks


_assets, _checks = _mirror()
defs = dg.Definitions(assets=_assets, asset_checks=_checks, executor=dg.in_process_executor)
