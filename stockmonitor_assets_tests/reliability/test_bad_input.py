"""Bad input: every mistake a user can make fails with a message naming it, writing nothing.

Each case runs both front doors in a subprocess, `stockmonitor run` and `dagster asset
materialize`, and expects a non-zero exit, the message, and an empty DATA_DIR. All
subprocesses of the module start together (a module fixture), so the matrix costs about
as long as its slowest case. What Dagster's config schema cannot express (weights, stock
codes and their listing, ranges) the code location's run guard refuses before any step.
"""

import concurrent.futures
import json
from pathlib import Path

import pytest

from stockmonitor_assets_tests.reliability.conftest import REPO, Cli

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

DAY = "2024-06-14"
SYNC = "daily_data_sync_job"
MARKET = "instruments,raw_ohlcv,completed_ohlcv,fundamentals"
IN_SOURCE_TREE = REPO / "stockmonitor_assets" / "reliability_data"


def _targets(codes: list[str]) -> str:
    return json.dumps({"ops": {"instruments": {"config": {"target_stocks": codes}}}})


# case: (stockmonitor args, dagster args, env, message from stockmonitor, message from dagster)
CASES = {
    "non_trading_date": (
        ["run", SYNC, "--partition", "2024-06-15"],
        ["--select", MARKET, "--partition", "2024-06-15"],
        {},
        "2024-06-15 is not an XSHG trading day; nearest trading days: 2024-06-14 and 2024-06-17",
        "containing the passed partition key `2024-06-15`",
    ),
    "before_first_partition": (
        ["run", SYNC, "--partition", "2004-06-14"],
        ["--select", MARKET, "--partition", "2004-06-14"],
        {},
        "2004-06-14 is before the first partition 2005-01-04",
        "containing the passed partition key `2004-06-14`",
    ),
    "future_date": (
        ["run", SYNC, "--partition", "2030-06-14"],
        ["--select", MARKET, "--partition", "2030-06-14"],
        {},
        "2030-06-14 is in the future",
        "containing the passed partition key `2030-06-14`",
    ),
    "reversed_range": (
        ["run", SYNC, "--start", "2024-06-14", "--end", "2024-06-03"],
        ["--select", MARKET, "--partition-range", "2024-06-14...2024-06-03"],
        {},
        "--start 2024-06-14 is after --end 2024-06-03",
        "run refused: the partition range starts on 2024-06-14, after its end 2024-06-03",
    ),
    "malformed_date": (
        ["run", SYNC, "--partition", "2024-13-01"],
        ["--select", MARKET, "--partition-range", "2024-06-03..2024-06-14"],
        {},
        "'2024-13-01' is not a date (expected YYYY-MM-DD)",
        "Invalid partition range format. Expected <start>...<end>",
    ),
    "unknown_job_or_asset": (
        ["run", "nosuch_job", "--partition", DAY],
        ["--select", "nosuch", "--partition", DAY],
        {},
        "unknown job 'nosuch_job'",
        "AssetKey(s) ['nosuch'] were selected, but no AssetsDefinition objects supply these keys",
    ),
    "malformed_stock_code": (
        ["run", SYNC, "--partition", DAY, "--config", "target_stocks=600000.SH,XYZ"],
        ["--select", MARKET, "--partition", DAY, "--config-json", _targets(["XYZ"])],
        {},
        "bad stock code(s) ['XYZ']",
        "bad stock code(s) ['XYZ']",
    ),
    "unknown_stock_code": (
        ["run", SYNC, "--partition", DAY, "--config", "target_stocks=600999.SH"],
        ["--select", MARKET, "--partition", DAY, "--config-json", _targets(["600999.SH"])],
        {},
        "target stock(s) ['600999.XSHG'] are not listed at source 'demo'",
        "target stock(s) ['600999.XSHG'] are not listed at source 'demo'",
    ),
    "unknown_config_key": (
        ["run", SYNC, "--partition", DAY, "--config", "colour=red"],
        [
            *("--select", MARKET, "--partition", DAY, "--config-json"),
            json.dumps({"ops": {"instruments": {"config": {"colour": "red"}}}}),
        ],
        {},
        "unknown config key 'colour'",
        'Received unexpected config entry "colour" at path root:ops:instruments:config',
    ),
    "invalid_weights": (
        ["run", "scoring_and_save_job", "--partition", DAY, "--config", "weights.momentum=-1"],
        [
            *("--select", "*", "--partition", DAY, "--config-json"),
            json.dumps({"ops": {"scores": {"config": {"weights": {"momentum": -1}}}}}),
        ],
        {},
        "weight of factor 'momentum' must be >= 0, got -1.0",
        "run refused: scores.weights: weight of factor 'momentum' must be >= 0, got -1",
    ),
    "missing_rqdatac_credentials": (
        ["run", SYNC, "--partition", DAY],
        ["--select", MARKET, "--partition", DAY],
        {"STOCKMONITOR_SOURCE": "rqdatac"},
        "RQDatac credentials are missing: set RQDATAC_API_KEY",
        "RQDatac credentials are missing: set RQDATAC_API_KEY",
    ),
    "data_dir_under_a_file": (
        ["run", SYNC, "--partition", DAY],
        ["--select", MARKET, "--partition", DAY],
        {"DATA_DIR": "{tmp}/a_file/data"},
        "is not a writable directory",
        "is not a writable directory",
    ),
    "data_dir_inside_source_tree": (
        ["run", SYNC, "--partition", DAY],
        ["--select", MARKET, "--partition", DAY],
        {"DATA_DIR": str(IN_SOURCE_TREE)},
        "is inside the source tree",
        "is inside the source tree",
    ),
}


def _launch(cli: Cli, tmp: Path, case: str, front_door: str):
    cli_args, dagster_args, env, *_ = CASES[case]
    data_dir = tmp / f"{case}_{front_door}" / "data"
    env = {k: v.format(tmp=tmp) for k, v in env.items()}
    data_dir = Path(env.pop("DATA_DIR", data_dir))
    if front_door == "stockmonitor":
        return data_dir, cli.run(cli_args, data_dir, program="stockmonitor", **env)
    args = ["asset", "materialize", "-m", "stockmonitor_assets.definitions", *dagster_args]
    return data_dir, cli.run(args, data_dir, **env)


RUNS = [
    (case, door)
    for case, (_, dagster_args, *_) in CASES.items()
    for door in ("stockmonitor", "dagster")
    if door == "stockmonitor" or dagster_args is not None
]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """(DATA_DIR, finished process) per (case, front door), all run concurrently."""
    tmp = tmp_path_factory.mktemp("bad_input")
    (tmp / "a_file").write_text("not a directory")
    cli = Cli(tmp)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = {run: pool.submit(_launch, cli, tmp, *run) for run in RUNS}
        yield {run: future.result() for run, future in futures.items()}


@pytest.mark.parametrize(("case", "front_door"), RUNS)
def test_bad_input_exits_non_zero_naming_the_mistake_and_writes_nothing(outcomes, case, front_door):
    data_dir, process = outcomes[(case, front_door)]
    message = CASES[case][3 if front_door == "stockmonitor" else 4]
    output = process.stdout + process.stderr
    assert process.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert not data_dir.is_dir() or not any(data_dir.rglob("*.parquet"))
    assert not IN_SOURCE_TREE.exists()
