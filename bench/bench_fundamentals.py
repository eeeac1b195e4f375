"""Files source on real layouts: per-day instrument snapshots and per-day market caps.

Usage: python bench/bench_fundamentals.py [--stocks 300] [--days 1273] [--served 300]
                                          [--reps 3] [--old REV] [--big]

Input: a files directory as a vendor export converted to the layout would look: per-day
instrument snapshots (`instruments` with a `date` column: stocks x days rows), per-day
market caps, 8 quarterly reports per stock, unadjusted daily bars (written once, not timed).

Timed, interleaved, medians (benchlib): what the `fundamentals` asset does for `--served`
days: `instruments(day)` then `fundamentals_pit(ids, day)` per day, on a source that has
already read its files (the read is timed separately, once per variant and rep).

- new: `stockmonitor_assets.sources.files` of this checkout (snapshots and caps indexed by
  day once; a day costs a join on its own rows).
- old: the same module at git revision `--old` (default 5cb6198, before issue 13), loaded
  from `git show` into a private module name: it filters every snapshot row per call.

`--big` adds the 5,000 stocks x 5 years layout (6.3 M snapshot rows): new only for all
served days, old for 20 days (its per-day cost is linear in the snapshot rows).
Both variants must serve identical frames; this is checked before timing.
"""

import argparse
import datetime as dt
import importlib.util
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from benchlib import interleaved, median, print_machine, table

from stockmonitor_assets import trading_calendar
from stockmonitor_assets.sources import files as new_files

ROOT = Path(__file__).resolve().parents[1]


def write_layout(directory: Path, stocks: int, days: int, seed: int = 1) -> list[dt.date]:
    """A files directory with per-day snapshots; returns its sessions."""
    sessions = trading_calendar.sessions(dt.date(2020, 1, 2), dt.date(2026, 12, 31))[:days]
    rng = np.random.default_rng(seed)
    ids = [f"{600000 + k:06d}.XSHG" if k % 2 else f"{k:06d}.XSHE" for k in range(stocks)]
    n = stocks * len(sessions)
    day_column = (
        pl.Series("date", sessions, dtype=pl.Date)
        .to_frame()
        .join(pl.DataFrame({"order_book_id": ids}), how="cross")
    )
    listed = pl.Series([dt.date(2010, 1, 4)] * n, dtype=pl.Date)
    day_column.with_columns(
        board=pl.lit("main"), listed_date=listed, is_st=pl.Series(rng.random(n) < 0.03)
    ).write_parquet(directory / "instruments.parquet")
    caps = rng.uniform(1e9, 1e11, n)
    day_column.with_columns(
        total_market_cap=pl.Series(caps), float_market_cap=pl.Series(caps * 0.6)
    ).write_parquet(directory / "market_caps.parquet")
    quarters = [dt.date(2019 + q // 4, 3 * (q % 4) + 1, 1) - dt.timedelta(days=1) for q in
                range(1, 9 + 4 * (len(sessions) // 250))]  # fmt: skip
    reports = pl.DataFrame({"order_book_id": ids}).join(
        pl.DataFrame({"report_period": quarters}), how="cross"
    )
    reports.with_columns(
        announce_date=pl.col("report_period") + pl.duration(days=40),
        net_profit_ttm=pl.Series(rng.normal(5e8, 3e8, len(reports))),
        total_equity=pl.Series(rng.uniform(1e9, 1e10, len(reports))),
    ).write_parquet(directory / "fundamentals.parquet")
    (directory / "bars").mkdir()
    close = pl.Series(np.round(rng.uniform(5, 50, n), 2))
    day_column.with_columns(
        open=close, high=close, low=close, close=close, volume=pl.lit(1e5)
    ).write_parquet(directory / "bars" / "all.parquet")
    return sessions


def load_old(revision: str):
    """`sources/files.py` as it was at `revision`, as a module of its own."""
    text = subprocess.run(
        ["git", "show", f"{revision}:stockmonitor_assets/sources/files.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "files_old.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("files_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fundamentals_days(source, days: list[dt.date]) -> None:
    """What the `fundamentals` asset asks of the source for `days` (after `instruments`)."""
    for day in days:
        ids = source.instruments(day)["order_book_id"].to_list()
        source.fundamentals_pit(ids, day)


def loaded(module, directory: Path):
    source = module.FilesSource(directory)
    source.trading_days(dt.date(2000, 1, 1), dt.date(2100, 1, 1))  # reads and checks files
    return source


def compare(label, modules, directory, sessions, served, reps) -> list[list[object]]:
    days = sessions[-served:]
    sources = {name: loaded(m, directory) for name, m in modules.items()}
    first = next(iter(sources.values()))
    for source in sources.values():  # identical frames, or the timing means nothing
        assert source.fundamentals_pit(first.instruments(days[0])["order_book_id"], days[0]).equals(
            first.fundamentals_pit(first.instruments(days[0])["order_book_id"], days[0])
        )
    served_times = interleaved(
        {name: (lambda s=s: fundamentals_days(s, days)) for name, s in sources.items()}, reps
    )
    read_times = interleaved(
        {name: (lambda m=m: loaded(m, directory)) for name, m in modules.items()}, reps
    )
    return [
        [label, name, len(days), f"{median(read_times[name]):.2f}",
         f"{median(served_times[name]):.3f}",
         f"{median(served_times[name]) / len(days) * 1000:.1f}"]
        for name in modules
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stocks", type=int, default=300)
    parser.add_argument("--days", type=int, default=1273)
    parser.add_argument("--served", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--old", default="5cb6198")
    parser.add_argument("--big", action="store_true")
    args = parser.parse_args()
    print_machine()
    modules = {"new": new_files, "old": load_old(args.old)}
    cases = [(args.stocks, args.days, [(modules, args.served, args.reps)])]
    if args.big:
        cases.append((5000, 1250, [({"new": new_files}, 300, 1), (modules, 20, 1)]))
    header = ["layout", "code", "days served", "read s", "served s", "ms/day"]
    print(table(header, []), flush=True)
    for stocks, days, runs in cases:
        with tempfile.TemporaryDirectory() as tmp:
            sessions = write_layout(Path(tmp), stocks, days)
            for variants, served, reps in runs:
                rows = compare(f"{stocks} x {len(sessions)}", variants, Path(tmp), sessions,
                               served, reps)  # fmt: skip
                print(table(header, rows).split("\n", 2)[2], flush=True)


if __name__ == "__main__":
    main()
