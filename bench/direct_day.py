"""One trading day of the whole graph as plain function calls: the source and the transforms.

Usage: python bench/direct_day.py DAY DATA_DIR OUT_DIR

The work of `dagster asset materialize --select '*' --partition DAY`, without Dagster:
the same source calls and transforms the assets make, reading the stored history the
technical window needs (`DATA_DIR/completed_ohlcv/*.parquet`, as the IO manager would) and
writing every output to OUT_DIR through the same store write (one conform each). Prints one
JSON line of stage timings (seconds); the source is built from the same environment
variables as the code location.
"""

import datetime as dt
import json
import sys
import time
from pathlib import Path

import polars as pl

from stockmonitor_assets import settings_resource
from stockmonitor_assets.schemas import COMPLETED_OHLCV
from stockmonitor_assets.sources.factory import build_source
from stockmonitor_assets.storage import PartitionStore
from stockmonitor_assets.trading_calendar import (
    partition_key,
    sessions_through,
)
from stockmonitor_assets.transforms import (
    bars,
    completion,
    fundamental,
    merge,
    scoring,
    technical,
)

CONFIG = settings_resource.Settings.from_env()
WINDOW = CONFIG.lookback_days


class Stages:
    """Wall seconds per named stage, in call order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


def run_day(day: dt.date, data_dir: Path, out_dir: Path, stages: Stages) -> dict[str, int]:
    source = build_source(
        CONFIG.source,
        demo_seed=CONFIG.demo_seed,
        universe_size=CONFIG.universe_size,
        demo_cache_dir=CONFIG.demo_cache_dir,
    )
    universe = source.instruments(day).with_columns(date=pl.lit(day))
    ids = universe["order_book_id"].unique().sort().to_list()
    fetched = bars.validate_source_bars(source.daily_bars(ids, day, day), [day], source.name)
    factors = source.ex_factors(ids, day, day)
    reported = source.fundamentals_pit(universe["order_book_id"].to_list(), day)
    stages.done("source")

    sessions = sessions_through(day)
    needed = sessions[-technical.window_partitions_needed(WINDOW, technical.ANCHOR_STEP_DEFAULT) :]
    paths = [data_dir / "completed_ohlcv" / f"{partition_key(d)}.parquet" for d in needed[:-1]]
    stored = [pl.read_parquet(p) for p in paths if p.exists()]
    stages.done("read_window")

    listed = fetched.join(universe.select("order_book_id", "date"), on=["order_book_id", "date"])
    raw = bars.attach_adj_factor(listed, factors)
    last_known = completion.last_known_from(stored[-1] if stored else COMPLETED_OHLCV.empty())
    if completion.stocks_needing_history(day, universe, raw, last_known):
        raise SystemExit(f"{day}: stocks without stored history; run the previous days first")
    completed = completion.complete_day(day, universe, raw, last_known)
    stages.done("completion")
    history = pl.concat([COMPLETED_OHLCV.empty(), *stored, completed])
    tech = technical.compute_technical_indicators(history, [day], sessions, window=WINDOW)
    stages.done("technical")
    funds = reported.with_columns(date=pl.lit(day))
    fund_ind = fundamental.compute_fundamental_indicators(funds)
    stages.done("fundamental")
    merged = merge.merge_daily(completed, universe, funds, tech, fund_ind, sessions)
    stages.done("merge")
    scores = scoring.score_stocks(merged, scoring.validate_weights({}))
    stages.done("scoring")

    outputs = {
        "instruments": universe,
        "raw_ohlcv": raw,
        "completed_ohlcv": completed,
        "fundamentals": funds,
        "technical_indicators": tech,
        "fundamental_indicators": fund_ind,
        "merged": merged,
        "scores": scores,
    }
    store = PartitionStore(str(out_dir))  # conforms each output once, as the IO manager's write
    for name, frame in outputs.items():
        store.write(name, partition_key(day), frame)
    stages.done("write")
    return {"window_files": len(stored), "rows": len(scores)}


def main() -> None:
    day, data_dir, out_dir = dt.date.fromisoformat(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    stages = Stages()
    counts = run_day(day, data_dir, Path(out_dir), stages)
    transforms = ("completion", "technical", "fundamental", "merge", "scoring")
    stages.seconds["transforms"] = sum(stages.seconds[k] for k in transforms)
    print(json.dumps({"stages": stages.seconds, **counts}))


if __name__ == "__main__":
    main()
