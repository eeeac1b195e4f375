"""Contracts at write (docs/data-rules.md): every partition an asset writes passes its
table's `TableSchema.conform`, once, in the store's write (transforms do not conform). A
missing column, a wrong dtype, a null where none is allowed, a duplicate key or a broken
SCORES invariant fails the writing step with a message naming the table, the column or
rule, and the stock and date; nothing of that partition is written and nothing downstream
runs."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from stockmonitor_assets.schemas import COMPLETED_OHLCV, FACTORS, SCORES, TABLES, SchemaViolation
from stockmonitor_assets_tests.clean_run import ASSETS, DAY, FIRST, LAST, copy_without
from stockmonitor_assets_tests.conftest import Pipeline, failure_message
from stockmonitor_assets_tests.test_quality import D, bars

STOCK = "600000.XSHG"  # the first row of `bars`, where every defect below is put


def _first_row(column: str, value: pl.Expr) -> pl.Expr:
    return pl.when(pl.int_range(pl.len()) == 0).then(value).otherwise(pl.col(column))


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_key_is_made_of_non_nullable_columns(name):
    table = TABLES[name]
    nullable = {c.name: c.nullable for c in table.columns}
    assert table.key and all(nullable[k] is False for k in table.key)


def test_conform_returns_exactly_the_contract_sorted_on_the_key():
    frame = bars().reverse().with_columns(extra=pl.lit(1)).select(pl.all().reverse())
    out = COMPLETED_OHLCV.conform(frame)
    assert out.schema == COMPLETED_OHLCV.polars_schema
    assert out["order_book_id"].to_list() == ["600000.XSHG", "600001.XSHG"]


DEFECTS = {
    "missing column": (lambda f: f.drop("adj_factor"), ["missing column(s) ['adj_factor']"]),
    "null in a non-nullable column": (
        lambda f: f.with_columns(is_filled=_first_row("is_filled", pl.lit(None))),
        ["column 'is_filled' has 1 null(s)", f"'order_book_id': '{STOCK}'", repr(D)],
    ),
    "duplicate key": (
        lambda f: pl.concat([f, f.head(1)]),
        ["2 rows share a key ['order_book_id', 'date']", f"'order_book_id': '{STOCK}'", repr(D)],
    ),
    "wrong dtype": (
        lambda f: f.with_columns(close=_first_row("close", pl.lit("n/a")).cast(pl.String)),
        ["cannot cast to contract dtypes", "column 'close'", '["n/a"]'],
    ),
    "value outside an enum": (
        lambda f: f.with_columns(pl.col("fill_reason").cast(pl.String)).with_columns(
            fill_reason=_first_row("fill_reason", pl.lit("bogus"))
        ),
        ["cannot cast to contract dtypes", "column 'fill_reason'", '["bogus"]'],
    ),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_a_frame_breaking_its_contract_is_refused_naming_what_broke(defect):
    damage, parts = DEFECTS[defect]
    with pytest.raises(SchemaViolation) as raised:
        COMPLETED_OHLCV.conform(damage(bars()))
    message = str(raised.value)
    assert message.startswith("completed_ohlcv: ")
    assert [p for p in parts if p not in message] == []


def test_a_wrong_dtype_names_the_stock_and_date():
    damage, _ = DEFECTS["wrong dtype"]
    with pytest.raises(SchemaViolation, match=rf"{STOCK}.*2024-06-07|2024, 6, 7"):
        COMPLETED_OHLCV.conform(damage(bars()))


def scores(**first_row) -> pl.DataFrame:
    """Two stocks scored on D, meeting the SCORES contract, `first_row` applied to the first."""
    common = dict(date=D, is_eligible=True, ineligible_reason=None, composite=0.1)
    common |= {f"z_{f}": 0.1 for f in FACTORS}
    rows = [
        dict(common, order_book_id=STOCK, rank=1, percentile=1.0, score=100.0, level="强势股"),
        dict(common, order_book_id="600001.XSHG", rank=2, percentile=0.0, score=0.0),
    ]
    rows[1]["level"] = "高风险股"
    rows[0] |= first_row
    return pl.DataFrame(rows, schema=SCORES.polars_schema)


# One row breaking exactly one SCORES invariant, per invariant: removing one fails its case.
SCORE_DEFECTS = {
    "0 <= score <= 100": dict(score=100.5),
    "only eligible stocks scored": dict(is_eligible=False, ineligible_reason="st"),
    "eligible exactly when no ineligible_reason": dict(ineligible_reason="st"),
}


def test_every_scores_invariant_has_a_violating_case():
    assert list(SCORE_DEFECTS) == [name for name, _ in SCORES.rules]


def test_valid_scores_meet_every_invariant():
    assert SCORES.conform(scores()).equals(scores())


@pytest.mark.parametrize("rule", SCORE_DEFECTS)
def test_scores_breaking_an_invariant_are_refused_naming_it(rule):
    with pytest.raises(SchemaViolation) as raised:
        SCORES.conform(scores(**SCORE_DEFECTS[rule]))
    message = str(raised.value)
    assert message.startswith(f"scores: 1 row(s) break '{rule}'")
    assert f"'order_book_id': '{STOCK}'" in message and repr(D) in message


# Through a run: an upstream file damaged around the store (written with plain polars, as an
# older version or a hand edit would leave it) makes the asset's transform compute a frame
# breaking its contract; the write refuses it. Nothing is patched: the frame the transform
# returns is the frame the store is asked to write.
def _duplicate_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


def _no_is_filled_on_first_row(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(is_filled=_first_row("is_filled", pl.lit(None)))


DUPLICATE_KEY = "2 rows share a key ['order_book_id', 'date']"
RUN_DEFECTS = {
    "completed_ohlcv": ("raw_ohlcv", _duplicate_first_row, [f"completed_ohlcv: {DUPLICATE_KEY}"]),
    "technical_indicators": (
        "completed_ohlcv",
        _duplicate_first_row,
        [f"technical_indicators: {DUPLICATE_KEY}"],
    ),
    "merged": (
        "completed_ohlcv",
        _no_is_filled_on_first_row,
        ["merged: column 'is_filled' has 1 null(s)"],
    ),
    "scores": ("merged", _duplicate_first_row, [f"scores: {DUPLICATE_KEY}"]),
}
DOWNSTREAM = {
    "completed_ohlcv": ["completed_ohlcv", "technical_indicators", "merged", "scores"],
    "technical_indicators": ["technical_indicators", "merged", "scores"],
    "merged": ["merged", "scores"],
    "scores": ["scores"],
}


def _copy_upstream_of(asset: str, tmp_path: Path) -> Pipeline:
    return copy_without(DOWNSTREAM[asset], tmp_path / "data")


def _damage(pipeline: Pipeline, upstream: str, day: str, defect) -> None:
    """Rewrite one stored upstream file with `defect` applied, bypassing the store."""
    path = pipeline.data_dir / upstream / f"{day}.parquet"
    defect(pl.read_parquet(path)).write_parquet(path)


@pytest.mark.parametrize("asset", RUN_DEFECTS)
def test_a_contract_broken_by_an_asset_fails_its_step_and_writes_nothing(asset, tmp_path):
    upstream, defect, parts = RUN_DEFECTS[asset]
    pipeline = _copy_upstream_of(asset, tmp_path)
    _damage(pipeline, upstream, DAY, defect)
    selection = dg.AssetSelection.assets(*DOWNSTREAM[asset])
    result = pipeline.materialize(ASSETS, DAY, selection=selection, raise_on_error=False)
    assert not result.success
    assert [e.step_key for e in result.get_step_failure_events()] == [asset]
    message = failure_message(result)
    assert [p for p in parts + ["2024, 6, 7"] if p not in message] == []
    assert result.get_asset_materialization_events() == []
    for rebuilt in DOWNSTREAM[asset]:
        assert not (pipeline.data_dir / rebuilt / f"{DAY}.parquet").exists(), rebuilt


def test_a_contract_broken_on_one_day_of_a_range_stops_the_range_at_that_day(tmp_path):
    pipeline = _copy_upstream_of("technical_indicators", tmp_path)
    _damage(pipeline, "completed_ohlcv", "2024-06-06", _duplicate_first_row)
    selection = dg.AssetSelection.assets(*DOWNSTREAM["technical_indicators"])
    result = pipeline.materialize(ASSETS, FIRST, LAST, selection=selection, raise_on_error=False)
    assert not result.success
    message = failure_message(result)
    assert f"technical_indicators: {DUPLICATE_KEY}" in message and "2024, 6, 6" in message
    assert result.get_asset_materialization_events() == []
    written = pipeline.keys("technical_indicators")
    assert "2024-06-06" not in written and LAST not in written
    for downstream in DOWNSTREAM["technical_indicators"][1:]:
        assert not [k for k in pipeline.keys(downstream) if k >= FIRST], downstream
