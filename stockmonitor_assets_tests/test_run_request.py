"""What `stockmonitor run` asks for, checked before Dagster is involved: the original
script's words for the jobs, and target stocks the source lists on no day of the run."""

import datetime as dt

import pytest

from stockmonitor_assets.run_request import (
    JOB_ALIASES,
    RunRequestError,
    resolve_job_name,
    unknown_targets,
)

JOBS = list(JOB_ALIASES.values())
DAYS = [dt.date(2024, 10, 8), dt.date(2024, 10, 9), dt.date(2024, 10, 10)]


@pytest.mark.parametrize(
    ("word", "job"),
    [
        ("sync", "daily_data_sync_job"),
        ("completion", "data_completion_job"),
        ("calculation", "indicator_calculation_job"),
        ("scoring", "scoring_and_save_job"),
        ("FULL", "daily_full_pipeline_job"),
        ("daily_data_sync_job", "daily_data_sync_job"),
    ],
)
def test_the_original_scripts_words_name_the_jobs(word, job):
    assert resolve_job_name(word, JOBS) == job


def test_an_unknown_job_lists_the_jobs_and_the_words():
    with pytest.raises(
        RunRequestError, match="unknown job 'nosuch'.*sync \\(daily_data_sync_job\\)"
    ):
        resolve_job_name("nosuch", JOBS)


def listed(by_day: dict[dt.date, set[str]], asked: list[dt.date]):
    def listed_on(day: dt.date) -> set[str]:
        asked.append(day)
        return by_day[day]

    return listed_on


def test_targets_listed_on_the_first_or_last_day_cost_two_source_calls():
    asked: list[dt.date] = []
    by_day = {DAYS[0]: {"600000.XSHG"}, DAYS[1]: set(), DAYS[2]: {"000001.XSHE"}}
    assert unknown_targets(["600000.XSHG", "000001.XSHE"], DAYS, listed(by_day, asked)) == []
    assert asked == [DAYS[0], DAYS[2]]


def test_a_target_listed_only_mid_range_is_known_and_a_typo_is_not():
    asked: list[dt.date] = []
    by_day = {DAYS[0]: set(), DAYS[1]: {"688001.XSHG"}, DAYS[2]: set()}
    targets = ["688001.XSHG", "600001.XSHG"]
    assert unknown_targets(targets, DAYS, listed(by_day, asked)) == ["600001.XSHG"]
    assert asked == DAYS[::2] + DAYS[1:2]
