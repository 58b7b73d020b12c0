"""Which month a retrain run processes: scheduled runs their data interval, manual runs the last full month."""

from __future__ import annotations

import pendulum
import pytest
from airflow.utils.types import DagRunType

from pipelines.errors import BadInputError
from pipelines.retrain import interval_for_run

START = pendulum.datetime(2026, 3, 1, tz="UTC")
TRIGGERED = pendulum.datetime(2026, 5, 17, tz="UTC")


@pytest.mark.parametrize(
    "run_type", [DagRunType.SCHEDULED, "scheduled", "DagRunType.SCHEDULED", str(DagRunType.SCHEDULED)]
)
def test_a_scheduled_run_processes_its_data_interval(run_type: object) -> None:
    assert interval_for_run(run_type, START, TRIGGERED) == "2026-03"


@pytest.mark.parametrize("run_type", [DagRunType.MANUAL, "manual", "DagRunType.MANUAL", DagRunType.BACKFILL_JOB])
def test_other_runs_process_the_last_complete_month_before_them(run_type: object) -> None:
    assert interval_for_run(run_type, START, TRIGGERED) == "2026-04"


def test_january_goes_back_to_december() -> None:
    assert interval_for_run("manual", None, pendulum.datetime(2026, 1, 9, tz="UTC")) == "2025-12"


def test_no_date_at_all_is_one_clear_error() -> None:
    with pytest.raises(BadInputError, match="cannot tell which data interval"):
        interval_for_run("manual", None, None)
