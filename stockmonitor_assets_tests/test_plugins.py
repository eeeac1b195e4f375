"""Users' factors and market-data sources as plug-ins (docs/extending.md).

The example package under examples/ is pip-installed into its own directory, which the
`dagster` subprocesses put on PYTHONPATH: its entry points are found there, while this test
session's own contracts stay the built-in ones. End to end on the demo market: the plug-in
source is the one used, the factors are columns of technical_indicators, merged, the UI's
column schema and the qlib directory, and the weighted one is scored. Then plug-ins that
raise or return the wrong shape: the run fails naming the plug-in, nothing is written.
"""

import datetime as dt
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from stockmonitor_assets.plugins import Factor, PluginError, validate
from stockmonitor_assets.sources.demo import DemoMarket
from stockmonitor_assets.sources.factory import _plugin_source
from stockmonitor_assets.transforms.custom_factors import compute_custom_factors
from stockmonitor_assets_tests.conftest import DEMO_CACHE
from stockmonitor_assets_tests.reliability.conftest import DEMO_SEED, UNIVERSE_SIZE, Cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "stockmonitor-example-plugins"
MARKET = "instruments,raw_ohlcv,completed_ohlcv,fundamentals"
HISTORY, RANGE, DAY = "2024-05-06...2024-05-31", "2024-06-03...2024-06-07", "2024-06-06"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example-plugins")
    source, site = root / "source", root / "site"
    shutil.copytree(EXAMPLE, source)  # setuptools builds in the source tree: not the repo's
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*install, "--target", str(site), str(source)], check=True)
    return site


def materialize(cli: Cli, data_dir: Path, select: str, partition: str, **env: str):
    done = cli.run(Cli.materialize_args(select, partition), data_dir, **env)
    return done.returncode, done.stdout + done.stderr


def read(data_dir: Path, asset: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted((data_dir / asset).glob("*.parquet"))])


@pytest.fixture(scope="module")
def example_run(example_site, tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin-run")
    cli, data_dir = Cli(root), root / "data"
    env = {"PYTHONPATH": str(example_site), "STOCKMONITOR_SOURCE": "calm_demo"}
    for select, partition in ((MARKET, HISTORY), ("*", RANGE)):
        code, output = materialize(cli, data_dir, select, partition, **env)
        assert code == 0, output[-3000:]
    return cli, data_dir, env


def test_the_plugin_source_is_the_one_that_fed_the_run(example_run):
    _, data_dir, _ = example_run
    raw = pl.read_parquet(data_dir / "raw_ohlcv" / f"{DAY}.parquet")
    demo = DemoMarket(cache_dir=DEMO_CACHE, seed=DEMO_SEED, universe_size=UNIVERSE_SIZE)
    day = dt.date.fromisoformat(DAY)
    plain = demo.daily_bars(raw["order_book_id"].to_list(), day, day)
    both = raw.join(plain, on=["order_book_id", "date"], suffix="_demo").drop_nulls("volume")
    assert len(both) > 20
    assert ((both["volume"] * 2 - both["volume_demo"]).abs() < 1e-6).all()


def test_factors_are_columns_of_indicators_merged_and_scores(example_run):
    _, data_dir, _ = example_run
    technical, merged, scores = (
        read(data_dir, a) for a in ("technical_indicators", "merged", "scores")
    )
    for frame in (technical, merged):
        assert {"drawdown_20", "volume_trend"} <= set(frame.columns)
        assert frame["drawdown_20"].drop_nulls().len() > 50
    assert (merged["drawdown_20"].drop_nulls() <= 0).all()
    assert "z_drawdown_20" in scores.columns and "z_volume_trend" not in scores.columns
    scored = scores.filter(pl.col("is_eligible"))
    assert scored["z_drawdown_20"].drop_nulls().len() == scored.height > 20


def test_factor_values_follow_their_definition_on_the_stored_bars(example_run):
    """drawdown_20 = last / max of the last 20 traded closes - 1 (scale-free, so the
    back-adjusted closes of completed_ohlcv give it too)."""
    _, data_dir, _ = example_run
    bars = read(data_dir, "completed_ohlcv").filter(~pl.col("is_filled"))
    day = dt.date.fromisoformat(DAY)
    closes = (
        bars.filter(pl.col("date") <= day)
        .sort("date")
        .group_by("order_book_id")
        .agg(
            close=(pl.col("close") * pl.col("adj_factor")).tail(20),
            traded_today=(pl.col("date") == day).any(),
        )
        .filter(pl.col("traded_today") & (pl.col("close").list.len() == 20))
    )
    want = closes.select(
        "order_book_id", want=pl.col("close").list.last() / pl.col("close").list.max() - 1
    )
    got = pl.read_parquet(data_dir / "technical_indicators" / f"{DAY}.parquet")
    joined = want.join(got, on="order_book_id")
    assert len(joined) > 20
    assert ((joined["drawdown_20"] - joined["want"]).abs() < 1e-12).all()


def test_a_day_run_alone_equals_the_same_day_of_the_range_run(example_run):
    cli, data_dir, env = example_run
    path = data_dir / "technical_indicators" / f"{DAY}.parquet"
    from_range = pl.read_parquet(path)
    code, output = materialize(cli, data_dir, "technical_indicators", DAY, **env)
    assert code == 0, output[-3000:]
    assert pl.read_parquet(path).equals(from_range)


def test_factors_reach_the_uis_column_schema_and_the_qlib_directory(example_run):
    cli, data_dir, env = example_run
    script = textwrap.dedent(
        """
        from stockmonitor_assets.definitions import defs
        import dagster as dg
        spec = defs.resolve_asset_graph().get(dg.AssetKey("merged")).to_asset_spec()
        print(",".join(c.name for c in spec.metadata["dagster/column_schema"].columns))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=cli.env(data_dir, **env), capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    assert {"drawdown_20", "volume_trend"} <= set(done.stdout.strip().split(","))
    stock = pl.read_parquet(data_dir / "merged" / f"{DAY}.parquet")["order_book_id"][0]
    number, exchange = stock.split(".")
    folder = data_dir / "qlib" / "features" / ({"XSHG": "sh", "XSHE": "sz"}[exchange] + number)
    assert {"drawdown_20.day.bin", "volume_trend.day.bin", "z_drawdown_20.day.bin"} <= {
        p.name for p in folder.iterdir()
    }


BAD_FACTORS = {
    "raises": "function=lambda w: 1 / 0, window=5",
    "wrong_shape": "function=lambda w: w.select('order_book_id', 'close'), window=5",
    "not_one_value": "expr=pl.col('close') * 2, window=5",
}


@pytest.mark.parametrize("defect", sorted(BAD_FACTORS))
def test_a_failing_factor_fails_the_run_naming_it_and_writes_nothing(tmp_path, defect):
    (tmp_path / "bad_factors.py").write_text(
        "import polars as pl\nfrom stockmonitor_assets.plugins import Factor\n"
        f"FACTORS = [Factor(name='bad_one', {BAD_FACTORS[defect]})]\n"
    )
    cli, data_dir = Cli(tmp_path), tmp_path / "data"
    assert materialize(cli, data_dir, f"{MARKET},technical_indicators", DAY)[0] == 0
    written = (data_dir / "technical_indicators" / f"{DAY}.parquet").read_bytes()
    env = {"PYTHONPATH": str(tmp_path), "STOCKMONITOR_FACTORS": "bad_factors"}
    code, output = materialize(cli, data_dir, "technical_indicators", DAY, **env)
    assert code != 0
    assert "factor plug-in 'bad_one' (STOCKMONITOR_FACTORS module bad_factors)" in output
    assert (data_dir / "technical_indicators" / f"{DAY}.parquet").read_bytes() == written


# --- the factor contract, in process -------------------------------------------------------


def window_bars() -> pl.DataFrame:
    days = [dt.date(2024, 6, 3) + dt.timedelta(days=i) for i in range(6)]
    rows = [
        dict(order_book_id=s, date=d, close=10.0 + i + k, volume=100.0 * (i + 1),
             adj_factor=2.0 if i >= 3 else 1.0, is_filled=(s == "b" and i == 5))
        for k, s in enumerate(("a", "b"))
        for i, d in enumerate(days)
    ]  # fmt: skip
    return pl.DataFrame(rows)


def test_a_factor_sees_forward_adjusted_closes_and_needs_its_full_window():
    bars = window_bars()
    last = Factor(name="first_close", window=5, expr=pl.col("close").first(), origin="test")
    short = Factor(name="six", window=6, expr=pl.col("close").first(), origin="test")
    day = bars["date"].max()
    got = compute_custom_factors(bars, [day], [last, short])
    # a: closes 11..15 over days 1..5, days 1-2 at factor 1, forward-adjusted to 2.0 -> /2
    assert got.filter(pl.col("order_book_id") == "a").row(0, named=True) == {
        "order_book_id": "a", "date": day, "first_close": 11.0 / 2, "six": 10.0 / 2,
    }  # fmt: skip
    assert "b" not in got["order_book_id"].to_list()  # not traded on the day: no row


def test_a_misshapen_factor_is_named_in_the_error():
    bad = Factor(name="dup", window=2, function=lambda w: w.select("order_book_id", dup=1.0),
                 origin="entry point dup")  # fmt: skip
    with pytest.raises(PluginError, match=r"factor plug-in 'dup' \(entry point dup\) returned"):
        compute_custom_factors(window_bars(), [window_bars()["date"].max()], [bad])


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"name": "Drawdown"}, "snake_case"),
        ({"name": "sma_20"}, "already a column"),
        ({"function": lambda w: w}, "exactly one of expr and function"),
        ({"window": 0}, "window must be a positive integer"),
        ({"dtype": pl.String}, "dtype must be one of"),
        ({"score_weight": -1}, "score_weight must be a number >= 0"),
    ],
)
def test_a_malformed_factor_declaration_is_refused_naming_it(changes, problem):
    good = dict(name="dd", window=3, expr=pl.col("close").last())
    with pytest.raises(PluginError, match=rf"factor plug-in '.*' \(entry point x\).*{problem}"):
        validate(Factor(**{**good, **changes}), "entry point x", taken={"sma_20"})


def test_a_source_plugin_that_is_no_source_or_raises_is_named():
    with pytest.raises(PluginError, match=r"source plug-in 'mine' returned object, which lacks"):
        _plugin_source("mine", object)
    with pytest.raises(PluginError, match=r"source plug-in 'mine' raised RuntimeError: no key"):
        _plugin_source("mine", lambda: (_ for _ in ()).throw(RuntimeError("no key")))
