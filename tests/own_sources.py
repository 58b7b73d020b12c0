"""A team's own monthly applications, as files per month and as rows of a SQL table (issue 15's fixtures).

The rows are the Statlog German Credit data (real, public, CC BY 4.0), given a
seeded decision date and spread over consecutive months, so every month holds
a realistic mix of people; nothing here is the generator's data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import SHARED_DATA

MONTHS = ("2024-01", "2024-02", "2024-03")
TIME_COLUMN = "application_date"
SEED = 20261207

# fairgate.yaml changes of a project reading its own monthly applications (the source keys are added per test)
OWN_SOURCE_PROJECT: dict[str, object] = {
    "dataset.target": "bad_credit",
    "dataset.time_column": TIME_COLUMN,
    "dataset.id_columns": [],
    "dataset.sensitive": ["sex"],
    "dataset.exclude_columns": {"status_sex": "encodes sex, the sensitive attribute"},
}


def monthly_applications(months: tuple[str, ...] = MONTHS, seed: int = SEED) -> dict[str, pd.DataFrame]:
    """The German Credit rows, shuffled (seeded), cut into one share per month, each dated inside its month."""
    rng = np.random.default_rng(seed)
    frame = pd.read_csv(SHARED_DATA)
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    batches: dict[str, pd.DataFrame] = {}
    for month, rows in zip(months, np.array_split(np.arange(len(frame)), len(months)), strict=True):
        start = pd.Timestamp(f"{month}-01")
        days = (start + pd.offsets.MonthBegin(1) - start).days
        batch = frame.iloc[rows].copy()
        offsets = rng.integers(0, days * 24 * 60, size=len(batch))
        batch.insert(0, TIME_COLUMN, (start + pd.to_timedelta(np.sort(offsets), unit="min")).strftime("%Y-%m-%d %H:%M"))
        batches[month] = batch.reset_index(drop=True)
    return batches


def write_monthly_files(folder: Path, batches: dict[str, pd.DataFrame], pattern: str = "{interval}.parquet") -> None:
    """Write each month's batch at ``folder / pattern`` (CSV, compressed CSV or Parquet by the name's end)."""
    for month, batch in batches.items():
        target = folder / pattern.replace("{interval}", month)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.name.endswith(".parquet"):
            batch.to_parquet(target, index=False)
        else:
            batch.to_csv(target, index=False)  # pandas compresses by the suffix (.csv.gz, .csv.bz2, ...)


def write_sql_table(url: str, batches: dict[str, pd.DataFrame], table: str = "applications") -> None:
    """Store every month's rows in one table of the database at ``url`` (SQLAlchemy)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            rows = pd.concat(batches.values(), ignore_index=True)
            rows[TIME_COLUMN] = pd.to_datetime(rows[TIME_COLUMN])  # a timestamp column, as a database holds it
            rows.to_sql(table, connection, index=False, if_exists="replace")
    finally:
        engine.dispose()


SQL_QUERY = (
    "SELECT * FROM applications "
    "WHERE application_date >= :interval_start AND application_date < :interval_end ORDER BY application_date"
)
