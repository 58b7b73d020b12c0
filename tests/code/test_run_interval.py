"""Which month a retrain run processes: always the last complete month before the run."""

from __future__ import annotations

import pendulum
import pytest
from airflow.utils.types import DagRunType

from pipelines.core.errors import BadInputError
from pipelines.flows.retrain import interval_for_run

END = pendulum.datetime(2026, 4, 1, tz="UTC")
TRIGGERED = pendulum.datetime(2026, 5, 17, tz="UTC")


@pytest.mark.parametrize(
    "run_type", [DagRunType.SCHEDULED, "scheduled", "DagRunType.SCHEDULED", str(DagRunType.SCHEDULED)]
)
def test_a_scheduled_run_processes_the_month_that_ended_with_its_data_interval(run_type: object) -> None:
    assert interval_for_run(run_type, END, TRIGGERED) == "2026-03"


def test_the_monthly_cron_trigger_of_airflow_3_processes_the_month_just_over() -> None:
    """@monthly fires on the 1st with start = end = that instant: the month processed is the one before."""
    fired = pendulum.datetime(2026, 11, 1, tz="UTC")
    assert interval_for_run(DagRunType.SCHEDULED, fired, fired) == "2026-10"


@pytest.mark.parametrize("run_type", [DagRunType.MANUAL, "manual", "DagRunType.MANUAL", DagRunType.BACKFILL_JOB])
def test_other_runs_process_the_last_complete_month_before_them(run_type: object) -> None:
    assert interval_for_run(run_type, END, TRIGGERED) == "2026-04"


def test_january_goes_back_to_december() -> None:
    assert interval_for_run("manual", None, pendulum.datetime(2026, 1, 9, tz="UTC")) == "2025-12"


def test_no_date_at_all_is_one_clear_error() -> None:
    with pytest.raises(BadInputError, match="cannot tell which data interval"):
        interval_for_run("manual", None, None)
