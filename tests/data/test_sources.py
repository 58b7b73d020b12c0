"""Per-interval sources (issue 15): a monthly folder of files, Hive-style folders, a SQL table; intervals from the data.

Each month of the fixture (``tests.own_sources``) must come back exactly, and
nothing else: a missing month, a row of another month, a folder holding
something that is not a table, a query without rows are one line naming the key.
SQL runs on SQLite and on the session's real Postgres.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from pydantic import ValidationError

from pipelines.core.config import DatasetSettings
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.data import sources
from tests.own_sources import MONTHS, SQL_QUERY, TIME_COLUMN, monthly_applications, write_monthly_files, write_sql_table
from tests.postgres_redis import PostgresRedis, postgres_redis  # noqa: F401  (the session fixture)

BASE = {"target": "bad_credit", "sensitive": ["sex"], "time_column": TIME_COLUMN}


@pytest.fixture(scope="module")
def batches() -> dict[str, pd.DataFrame]:
    return monthly_applications()


def files_settings(path: str) -> DatasetSettings:
    return DatasetSettings(source="files", path=path, **BASE)


def sql_settings(url_env: str = "FAIRGATE_SOURCE_URL", query: str = SQL_QUERY) -> DatasetSettings:
    return DatasetSettings(source="sql", sql={"url_env": url_env, "query": query}, **BASE)


def same_rows(read: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The rows read are exactly the month's (the time column compared as times: a database returns timestamps)."""
    read, expected = read.copy(), expected.copy()
    read[TIME_COLUMN] = pd.to_datetime(read[TIME_COLUMN])
    expected[TIME_COLUMN] = pd.to_datetime(expected[TIME_COLUMN])
    pd.testing.assert_frame_equal(read.reset_index(drop=True), expected, check_dtype=False)


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("pattern", ["applications/{interval}.parquet", "applications/{interval}.csv.gz"])
def test_each_month_of_a_folder_of_files_is_read_exactly(tmp_path: Path, batches, pattern: str) -> None:
    write_monthly_files(tmp_path, batches, pattern)
    settings = files_settings(pattern)
    assert sources.available_file_intervals(settings, tmp_path) == list(MONTHS)
    assert sources.latest_interval(settings, tmp_path) == MONTHS[-1]
    for month in MONTHS:
        batch = sources.read_interval(settings, tmp_path, month, tmp_path / "staging")
        same_rows(batch.frame, batches[month])
        assert batch.origin == [str(tmp_path / pattern.replace("{interval}", month))]


def test_a_hive_style_folder_of_several_files_is_read_whole(tmp_path: Path, batches) -> None:
    for month, batch in batches.items():
        folder = tmp_path / "applications" / f"month={month}"
        folder.mkdir(parents=True)
        half = len(batch) // 2
        batch.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
        batch.iloc[half:].to_csv(folder / "part-1.csv.gz", index=False)
        (folder / "_SUCCESS").write_bytes(b"")
    settings = files_settings("applications/month={interval}")
    assert sources.available_file_intervals(settings, tmp_path) == list(MONTHS)
    batch = sources.read_interval(settings, tmp_path, "2024-02", tmp_path / "staging")
    same_rows(batch.frame, batches["2024-02"])
    assert [Path(name).name for name in batch.origin] == ["part-0.parquet", "part-1.csv.gz"]


def test_a_remote_filesystem_is_copied_into_the_run_then_read(tmp_path: Path, batches) -> None:
    """fsspec's in-memory filesystem stands for a bucket (s3:// goes the same way, through s3fs)."""
    root = f"memory://fairgate-{secrets.token_hex(4)}"
    for month, batch in batches.items():
        with fsspec.open(f"{root}/applications/{month}.parquet", "wb") as handle:
            batch.to_parquet(handle, index=False)
    settings = files_settings(root + "/applications/{interval}.parquet")
    assert sources.latest_interval(settings, tmp_path) == MONTHS[-1]
    batch = sources.read_interval(settings, tmp_path, "2024-01", tmp_path / "staging")
    same_rows(batch.frame, batches["2024-01"])
    assert batch.origin == [f"memory:///fairgate-{root.rsplit('-', 1)[1]}/applications/2024-01.parquet"]
    assert [p.name for p in (tmp_path / "staging").iterdir()] == ["0000-2024-01.parquet"]


def test_a_missing_month_is_one_line_naming_the_key(tmp_path: Path, batches) -> None:
    write_monthly_files(tmp_path, batches)
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(files_settings("{interval}.parquet"), tmp_path, "2024-04", tmp_path)
    assert str(raised.value) == sources.ERR_NO_INTERVAL_FILE.format(
        interval="2024-04", location=tmp_path / "2024-04.parquet"
    )


def test_a_file_holding_another_months_rows_is_refused(tmp_path: Path, batches) -> None:
    mixed = pd.concat([batches["2024-02"], batches["2024-03"].head(5)], ignore_index=True)
    mixed.to_parquet(tmp_path / "2024-02.parquet", index=False)
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(files_settings("{interval}.parquet"), tmp_path, "2024-02", tmp_path)
    message = str(raised.value)
    assert "5 of 338 row(s) have application_date outside interval 2024-02 [2024-02-01, 2024-03-01)" in message
    assert "\n" not in message


def test_a_folder_holding_a_file_that_is_not_a_table_is_refused(tmp_path: Path, batches) -> None:
    folder = tmp_path / "2024-01"
    folder.mkdir()
    batches["2024-01"].to_parquet(folder / "part-0.parquet", index=False)
    (folder / "notes.txt").write_text("delivered late")
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(files_settings("{interval}"), tmp_path, "2024-01", tmp_path)
    assert str(raised.value) == sources.ERR_NOT_A_TABLE.format(location=folder, interval="2024-01", name="notes.txt")


def test_files_of_one_month_with_different_columns_are_refused(tmp_path: Path, batches) -> None:
    folder = tmp_path / "2024-01"
    folder.mkdir()
    batch = batches["2024-01"]
    batch.iloc[:100].to_parquet(folder / "a.parquet", index=False)
    batch.iloc[100:].drop(columns=["age"]).to_parquet(folder / "b.parquet", index=False)
    with pytest.raises(BadInputError, match=r"b.parquet: its columns differ from .*a.parquet's: missing \['age'\]"):
        sources.read_interval(files_settings("{interval}"), tmp_path, "2024-01", tmp_path)


def test_a_ragged_compressed_month_is_refused_naming_its_line(tmp_path: Path, batches) -> None:
    write_monthly_files(tmp_path, batches, "{interval}.csv")
    plain = tmp_path / "2024-01.csv"
    lines = plain.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[10] = lines[10].rstrip("\n").rsplit(",", 1)[0] + "\n"
    import gzip

    with gzip.open(tmp_path / "2024-01.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(lines))
    with pytest.raises(BadInputError, match=r"2024-01.csv.gz: line 11 has 22 field\(s\) where the header has 23"):
        sources.read_interval(files_settings("{interval}.csv.gz"), tmp_path, "2024-01", tmp_path)


def test_a_one_off_interval_is_refused_by_a_monthly_source(tmp_path: Path) -> None:
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(files_settings("{interval}.csv"), tmp_path, "data-0123456789ab", tmp_path)
    assert str(raised.value) == sources.ERR_NOT_MONTH.format(source="files", interval="data-0123456789ab")


# ---------------------------------------------------------------- the interval of a run without --interval


def test_without_an_interval_the_latest_unprocessed_month_is_taken_never_the_clock(tmp_path: Path, batches) -> None:
    write_monthly_files(tmp_path, {m: batches[m] for m in MONTHS[:2]})
    paths = ProjectPaths(tmp_path, "dataset")
    settings = files_settings("{interval}.parquet")
    assert sources.default_interval(settings, paths)[0] == "2024-02"
    paths.batches_dir.mkdir(parents=True)
    (paths.batches_dir / "2024-02.parquet").write_bytes(b"accepted")
    interval, why = sources.default_interval(settings, paths)
    assert interval is None and "already accepted (dataset/batches/2024-02.parquet)" in why
    write_monthly_files(tmp_path, {"2024-03": batches["2024-03"]})  # next month's file arrives
    assert sources.default_interval(settings, paths)[0] == "2024-03"


def test_a_single_file_without_a_time_column_is_a_one_off_version_named_by_its_bytes(tmp_path: Path, batches) -> None:
    source = tmp_path / "applications.csv"
    batches["2024-01"].drop(columns=[TIME_COLUMN]).to_csv(source, index=False)
    settings = DatasetSettings(source="file", path="applications.csv", target="bad_credit", sensitive=["sex"])
    first = sources.default_interval(settings, ProjectPaths(tmp_path, "dataset"))[0]
    assert first is not None and sources.ONE_OFF_PATTERN.match(first)
    batches["2024-02"].drop(columns=[TIME_COLUMN]).to_csv(source, index=False)
    assert sources.default_interval(settings, ProjectPaths(tmp_path, "dataset"))[0] not in (None, first)


def test_a_single_file_with_a_time_column_runs_as_its_latest_month(tmp_path: Path, batches) -> None:
    pd.concat([batches["2024-01"], batches["2024-02"]]).to_csv(tmp_path / "applications.csv", index=False)
    settings = DatasetSettings(source="file", path="applications.csv", **BASE)
    assert sources.default_interval(settings, ProjectPaths(tmp_path, "dataset"))[0] == "2024-02"


# ---------------------------------------------------------------- sql


def _check_sql_source(url: str, batches, monkeypatch) -> None:
    write_sql_table(url, batches)
    monkeypatch.setenv("FAIRGATE_SOURCE_URL", url)
    settings = sql_settings()
    for month in MONTHS:
        batch = sources.read_interval(settings, Path("."), month, Path("."))
        same_rows(batch.frame, batches[month])
        assert batch.origin == ["dataset.sql.query on $FAIRGATE_SOURCE_URL"]
        start, end = sources.interval_bounds(month)
        assert f"interval_start={start}, interval_end={end}" in batch.note
    # the latest month may still be filling up: the latest complete one is the month before it
    assert sources.latest_interval(settings, Path(".")) == MONTHS[-2]
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(settings, Path("."), "2024-05", Path("."))
    assert str(raised.value) == sources.ERR_SQL_EMPTY.format(interval="2024-05", start="2024-05-01", end="2024-06-01")
    bad = sql_settings(query="SELECT * FROM no_such_table WHERE d >= :interval_start AND d < :interval_end")
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(bad, Path("."), "2024-01", Path("."))
    assert str(raised.value).startswith("dataset.sql.query on $FAIRGATE_SOURCE_URL failed: ")
    assert "no_such_table" in str(raised.value)


def test_each_month_of_a_sqlite_table_is_read_exactly(tmp_path: Path, batches, monkeypatch) -> None:
    _check_sql_source(f"sqlite:///{tmp_path / 'applications.db'}", batches, monkeypatch)


def test_each_month_of_a_postgres_table_is_read_exactly(
    postgres_redis: PostgresRedis, batches, monkeypatch  # noqa: F811
) -> None:
    name = f"source_{secrets.token_hex(4)}"
    account = postgres_redis.postgres.create_database(name, name)
    _check_sql_source(account.url(), batches, monkeypatch)


def test_a_missing_url_variable_names_it(monkeypatch) -> None:
    monkeypatch.delenv("TEAM_DB_URL", raising=False)
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(sql_settings("TEAM_DB_URL"), Path("."), "2024-01", Path("."))
    assert str(raised.value) == sources.ERR_NO_URL.format(name="TEAM_DB_URL")


def test_an_unusable_url_never_shows_its_password(monkeypatch) -> None:
    monkeypatch.setenv("FAIRGATE_SOURCE_URL", "nosuchdialect://team:s3cret-pw@db/applications")
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(sql_settings(), Path("."), "2024-01", Path("."))
    assert "s3cret-pw" not in str(raised.value)
    assert str(raised.value).startswith("dataset.sql.url_env: FAIRGATE_SOURCE_URL does not hold a usable")


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "files", "path": "applications/2024-01.csv"}, "needs 'path' with {interval}"),
        ({"source": "files", "path": "a/{interval}.csv", "time_column": None}, "needs 'time_column'"),
        ({"source": "sql", "sql": {"query": "SELECT * FROM t"}}, ":interval_start and :interval_end"),
        ({"source": "sql", "sql": {"query": "SELECT * FROM t WHERE d >= :interval_start"}}, "with :interval_end"),
        (
            {"source": "sql", "sql": {"url_env": "postgresql://u:pw@h/db", "query": SQL_QUERY}},
            "never goes in fairgate.yaml",
        ),
        ({"source": "sql", "path": "x.csv", "sql": {"query": SQL_QUERY}}, "'path' is only used with"),
    ],
)
def test_a_source_configuration_that_cannot_work_is_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DatasetSettings(**{**BASE, **changes})


def test_text_decision_times_become_timestamps_and_unreadable_ones_are_refused(tmp_path: Path, batches) -> None:
    """A CSV's dates are text: stored as timestamps, or every new month would audit as new category values."""
    write_monthly_files(tmp_path, batches, "{interval}.csv")
    batch = sources.read_interval(files_settings("{interval}.csv"), tmp_path, "2024-01", tmp_path)
    assert pd.api.types.is_datetime64_any_dtype(batch.frame[TIME_COLUMN])
    broken = batches["2024-01"].copy()
    broken.loc[3, TIME_COLUMN] = "sometime in January"
    broken.to_csv(tmp_path / "2024-01.csv", index=False)
    with pytest.raises(BadInputError) as raised:
        sources.read_interval(files_settings("{interval}.csv"), tmp_path, "2024-01", tmp_path)
    assert str(raised.value) == sources.ERR_NOT_A_TIME.format(
        origin=tmp_path / "2024-01.csv", count=1, column=TIME_COLUMN, example="sometime in January"
    )
