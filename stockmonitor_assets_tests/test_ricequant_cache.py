"""The RQDatac response cache: a damaged file is fetched again, files and folders are private,
and writes go through unpredictable temp names (a planted symlink is never followed). A cache
that cannot be written (under a file, a read-only or full filesystem: faults that hold for
root too) costs a warning, never the fetched data; `stockmonitor validate` reports it.
"""

import contextlib
import datetime as dt
import logging
import os
import stat
import subprocess
import threading

import polars as pl
import pytest

from stockmonitor_assets.cli.checkup import check_setup
from stockmonitor_assets.sources.retry import RetryPolicy
from stockmonitor_assets.sources.ricequant import Credentials, RiceQuantSource
from stockmonitor_assets_tests.fake_rqdatac import FakeRQDatac

NOW = dt.datetime(2024, 2, 1, 20, 30)  # all of January published: responses are cached
DAY = dt.date(2024, 1, 12)
IDS = ["600000.XSHG", "300750.XSHE"]


def _source(cache_dir, sdk=None) -> RiceQuantSource:
    return RiceQuantSource(
        Credentials("user@example.com", "pw"),
        cache_dir=cache_dir,
        sdk=sdk or FakeRQDatac(),
        sleep=lambda _: None,
        clock=lambda: NOW,
        retry_policy=RetryPolicy(attempts=1),
    )


def _bars(source: RiceQuantSource) -> pl.DataFrame:
    return source.daily_bars(IDS, DAY, DAY)


def _cached_files(cache_dir) -> list:
    return sorted((cache_dir / "rqdatac" / "get_price").glob("*.parquet"))


def test_a_corrupt_cache_file_is_fetched_again_and_replaced(tmp_path):
    expected = _bars(_source(tmp_path))
    (cached,) = _cached_files(tmp_path)
    cached.write_bytes(b"PAR1 truncated by a full disk")
    sdk = FakeRQDatac()
    assert _bars(_source(tmp_path, sdk)).equals(expected)
    assert len(sdk.calls_to("get_price")) == 1
    assert pl.read_parquet(cached).shape[0] == expected.shape[0]
    assert _bars(_source(tmp_path, FakeRQDatac())).equals(expected)  # and read from now on


def test_cache_folders_are_created_private_and_files_owner_only(tmp_path):
    cache_dir = tmp_path / "cache" / "deeper"
    _bars(_source(cache_dir))
    for folder in (cache_dir, cache_dir / "rqdatac", cache_dir / "rqdatac" / "get_price"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    (cached,) = _cached_files(cache_dir)
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600


def test_an_rqdatac_folder_left_open_by_an_older_version_is_tightened(tmp_path):
    (tmp_path / "rqdatac").mkdir(mode=0o755)
    os.chmod(tmp_path / "rqdatac", 0o755)
    _bars(_source(tmp_path))
    assert stat.S_IMODE((tmp_path / "rqdatac").stat().st_mode) == 0o700


def test_a_symlink_planted_at_a_guessable_temp_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    _bars(_source(tmp_path / "cache"))
    (cached,) = _cached_files(tmp_path / "cache")
    cached.unlink()
    folder = cached.parent
    # The names a predictable scheme would use: pid and thread id, or a fixed suffix.
    guesses = [
        cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp"),
        cached.with_suffix(".tmp"),
        folder / f"{cached.name}.tmp",
    ]
    for guess in guesses:
        guess.symlink_to(victim)
    _bars(_source(tmp_path / "cache"))
    assert victim.read_text() == "precious"
    assert pl.read_parquet(cached).height == len(IDS)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


@contextlib.contextmanager
def _tmpfs(where, options: str):
    """A small tmpfs mounted at `where` (root's permissions do not bypass `ro` or `size`)."""
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@contextlib.contextmanager
def _unwritable_cache_dir(tmp_path, fault: str):
    if fault == "under_a_file":
        (tmp_path / "a_file").write_text("")
        yield tmp_path / "a_file" / "cache"
    elif fault == "read_only_filesystem":
        with _tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
            yield mount / "cache"
    else:
        with _tmpfs(tmp_path / "full", "size=16k") as mount:
            (mount / "filler").write_bytes(b"\0" * 16 * 1024)  # the quota is spent
            yield mount


@pytest.mark.parametrize("fault", ["under_a_file", "read_only_filesystem", "disk_full"])
def test_an_unwritable_cache_warns_and_returns_the_fetched_data(tmp_path, caplog, fault):
    expected = _bars(_source(None))
    with _unwritable_cache_dir(tmp_path, fault) as cache_dir:
        sdk = FakeRQDatac()
        with caplog.at_level(logging.WARNING):
            assert _bars(_source(cache_dir, sdk)).equals(expected)
        assert len(sdk.calls_to("get_price")) == 1
        assert "not cached" in caplog.text and "CACHE_DIR" in caplog.text
        if cache_dir.is_dir():
            assert not any(cache_dir.rglob("*.tmp"))  # no half-written temp file left


@pytest.mark.parametrize("fault", ["under_a_file", "read_only_filesystem", "disk_full"])
def test_validate_reports_an_unwritable_cache_dir(tmp_path, monkeypatch, fault):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    with _unwritable_cache_dir(tmp_path, fault) as cache_dir:
        monkeypatch.setenv("CACHE_DIR", str(cache_dir))
        problems, _ = check_setup()
        (problem,) = [p for p in problems if "CACHE_DIR" in p]
        assert str(cache_dir) in problem and "cannot be written" in problem
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    assert not [p for p in check_setup()[0] if "CACHE_DIR" in p]
