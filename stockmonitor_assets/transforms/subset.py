"""A subset sync (`target_stocks`): refresh some stocks' rows of a day, keep everyone else's.

A daily partition holds the whole universe of its day; a sync restricted to a few stocks
must never replace that file with the few rows it fetched. `merge_subset` takes the stored
partition and the freshly fetched rows of the targets and returns the day with exactly the
targets' rows replaced:

- every non-target row of the stored partition is kept unchanged (same values, same
  dtypes; both frames are aligned to the table's columns and dtypes, `TableSchema.align`,
  and the result is sorted by the table key; the write conforms it like any partition);
- the fresh rows are authoritative for the targets: a target with no fresh row (not listed
  that day, delisted, no bar) has no row afterwards, so the day stays consistent with the
  source's universe of that day;
- a day with no stored partition is refused (`SubsetMergeError`): the other stocks' rows
  do not exist, so the result would be a partial day that downstream cross-sectional
  assets (ranks, z-scores) would take for the whole market. Sync the full universe first.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from stockmonitor_assets.schemas import TableSchema


class SubsetMergeError(ValueError):
    """A subset sync cannot be merged safely into the stored day; the message says why."""


@dataclass(frozen=True)
class SubsetChanges:
    """What a merge did to the targets' rows (for run metadata)."""

    replaced: int  # stored target rows replaced by fresh ones
    added: int  # fresh target rows with no stored counterpart
    removed: int  # stored target rows with no fresh counterpart


def merge_subset(
    stored: pl.DataFrame | None,
    fresh: pl.DataFrame,
    targets: Sequence[str],
    schema: TableSchema,
    day: str = "",
) -> pl.DataFrame:
    """The stored day with the targets' rows replaced by `fresh`.

    Args:
        stored: the day's partition as written before (None: never written).
        fresh: the rows just fetched; only target stocks, only this day.
        targets: normalized order_book_ids of the subset sync (non-empty).
        schema: the table contract both frames follow (its key sorts the result).
        day: the partition key, named in errors.

    Raises:
        SubsetMergeError: no stored partition, no targets, fresh rows of non-targets, or
            frames of different days.
    """
    where = f"{schema.name}[{day}]" if day else schema.name
    if not targets:
        raise SubsetMergeError(f"{where}: no target stocks; a full sync replaces the day")
    if stored is None:
        raise SubsetMergeError(
            f"{where} was never synced for the whole universe; a subset sync "
            f"({len(targets)} stock(s)) cannot create it. Sync the day without target_stocks "
            "first; nothing was written"
        )
    fresh = schema.align(fresh)
    _require_only_targets(fresh, targets, where)
    _require_one_day(stored, fresh, where)
    kept = stored.filter(~pl.col("order_book_id").is_in(list(targets)))
    merged = pl.concat([schema.align(kept), fresh], how="vertical")
    return merged.sort(list(schema.key)) if schema.key else merged


def subset_changes(
    stored: pl.DataFrame | None, fresh: pl.DataFrame, targets: Sequence[str]
) -> SubsetChanges:
    """Counts of replaced, added and removed target rows (by stock) for one day."""
    before = set() if stored is None else _target_ids(stored, targets)
    after = _target_ids(fresh, targets)
    return SubsetChanges(
        replaced=len(before & after), added=len(after - before), removed=len(before - after)
    )


def _target_ids(frame: pl.DataFrame, targets: Sequence[str]) -> set[str]:
    ids = frame.filter(pl.col("order_book_id").is_in(list(targets)))["order_book_id"]
    return set(ids.to_list())


def _require_only_targets(fresh: pl.DataFrame, targets: Sequence[str], where: str) -> None:
    others = sorted(set(fresh["order_book_id"].to_list()) - set(targets))
    if others:
        raise SubsetMergeError(
            f"{where}: fresh rows of stocks outside target_stocks {others[:5]}; "
            "a subset sync may only replace its targets"
        )


def _require_one_day(stored: pl.DataFrame, fresh: pl.DataFrame, where: str) -> None:
    if "date" not in stored.columns or "date" not in fresh.columns:
        return
    days = set(stored["date"].unique().to_list()) | set(fresh["date"].unique().to_list())
    if len(days) > 1:
        raise SubsetMergeError(f"{where}: frames span several days {sorted(days)}; merge per day")
