"""End to end: a team's own monthly applications, as files per month and as rows of a SQL table (issue 15).

Two consecutive ``fairgate run --interval`` runs each ingest exactly their
month, versioned by DVC in the project's own data folder (``dataset/``,
``dataset.dvc``), never in the generator's ``data/`` and ``data.dvc``.  The
SQL table is read on SQLite and on the session's real Postgres, its URL given
through the environment only.  A month the source does not hold is one line,
exit 2, nothing registered.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import SHARED_DATA, make_project
from tests.own_sources import (
    MONTHS,
    OWN_SOURCE_PROJECT,
    SQL_QUERY,
    TIME_COLUMN,
    monthly_applications,
    write_monthly_files,
    write_sql_table,
)
from tests.postgres_redis import PostgresRedis, postgres_redis  # noqa: F401  (the session fixture)
from tests.projects import GERMAN_FILE_PROJECT, MODEL, client_for, fairgate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FILES_PATH = "applications/month={interval}/applications.csv.gz"
URL_ENV = "TEAM_APPLICATIONS_URL"


def _project(root: Path, kind: str, batches: dict[str, pd.DataFrame], request) -> tuple[Path, dict[str, str]]:
    """A project reading ``batches`` through a ``files`` source or a ``sql`` source on Postgres; its environment."""
    if kind == "files":
        project = make_project(root, **OWN_SOURCE_PROJECT, **{"dataset.source": "files", "dataset.path": FILES_PATH})
        write_monthly_files(project, batches, FILES_PATH)
        return project, {}
    project = make_project(
        root, **OWN_SOURCE_PROJECT,
        **{"dataset.source": "sql", "dataset.sql": {"url_env": URL_ENV, "query": SQL_QUERY}},
    )
    services: PostgresRedis = request.getfixturevalue("postgres_redis")
    name = f"source_{secrets.token_hex(4)}"
    url = services.postgres.create_database(name, name).url()
    write_sql_table(url, batches)
    return project, {URL_ENV: url}


def _ingested_rows(stdout: str) -> int:
    line = next(line for line in stdout.splitlines() if line.startswith("ingest "))
    return int(line.split()[3])


# The sql source runs end to end on Postgres; on SQLite the same query path is read month by month in
# tests/data/test_sources.py (a third pair of Airflow runs here would add about 90 s and no other code).
@pytest.mark.parametrize("kind", ["files", "postgres"])
def test_two_consecutive_months_each_ingest_exactly_their_month(session_root: Path, kind: str, request) -> None:
    batches = monthly_applications()
    project, env = _project(session_root / f"e2e-own-{kind}", kind, batches, request)
    data_hashes = []
    for number, month in enumerate(MONTHS[:2], start=1):
        result = fairgate(project, "run", "--interval", month, extra_env=env)
        output = result.stdout + result.stderr
        assert result.returncode in (0, 1), output
        assert "\ningest     passed" in result.stdout and "\nleakage    passed" in result.stdout, output
        assert _ingested_rows(result.stdout) == len(batches[month]), output
        # the accepted data: one batch per month so far, each exactly its month's rows
        accepted = sorted((project / "dataset" / "batches").glob("*.parquet"))
        assert [f.stem for f in accepted] == list(MONTHS[:number])
        stored = pd.read_parquet(project / "dataset" / "batches" / f"{month}.parquet")
        assert len(stored) == len(batches[month])
        assert set(pd.to_datetime(stored[TIME_COLUMN]).dt.strftime("%Y-%m")) == {month}
        data_hashes.append(next(line for line in result.stdout.splitlines() if line.startswith("ingest ")).split()[-1])
        # the project's own pointer; the generator's data.dvc is neither written nor referred to
        assert (project / "dataset.dvc").is_file() and not (project / "data.dvc").exists()
        assert "generator" not in result.stdout
    assert data_hashes[0] != data_hashes[1]
    assert f"new data version {data_hashes[1]} (was {data_hashes[0]})" in result.stdout

    before = len(client_for(project).search_model_versions(f"name = '{MODEL}'"))
    missing = fairgate(project, "run", "--interval", "2024-07", extra_env=env)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    # one line: before Airflow starts (a files source finds no file) or as the ingest's one reason (a query)
    reasons = [line.strip() for line in missing.stdout.splitlines() if line.strip().startswith("reason:")]
    errors = [line for line in missing.stderr.splitlines() if line.strip()] + reasons
    assert len(errors) == 1 and "interval 2024-07" in errors[0], missing.stdout + missing.stderr
    assert len(client_for(project).search_model_versions(f"name = '{MODEL}'")) == before


def test_a_file_without_a_time_column_runs_as_a_one_off_version_beside_the_generators_pointer(
    session_root: Path,
) -> None:
    """The German Credit file in a checkout holding the generator's committed data.dvc (a clone of this repository).

    Before issue 15 this run took the clock's last month as its interval,
    rewrote data.dvc and noted "new data version ... (was <the generator's
    version>)".  Now: a one-off version named by the file's bytes, versioned in
    dataset/ with dataset.dvc, data.dvc untouched and never mentioned.
    """
    project = make_project(session_root / "e2e-own-one-off", **GERMAN_FILE_PROJECT)
    (project / "german_credit.csv").write_bytes(SHARED_DATA.read_bytes())
    generator_pointer = (REPO / "data.dvc").read_text(encoding="utf-8")
    (project / "data.dvc").write_text(generator_pointer, encoding="utf-8")
    generator_hash = yaml.safe_load(generator_pointer)["outs"][0]["md5"]
    expected = "data-" + hashlib.sha256(SHARED_DATA.read_bytes()).hexdigest()[:12]

    result = fairgate(project, "run")
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output
    assert f"interval {expected}: a one-off data version named by the bytes of german_credit.csv" in result.stdout
    assert f"running the retrain DAG for interval {expected}" in result.stdout
    assert "\ningest     passed" in result.stdout, output
    assert "note: first data version created: " in result.stdout, output
    assert generator_hash not in output
    assert (project / "data.dvc").read_text(encoding="utf-8") == generator_pointer
    own = yaml.safe_load((project / "dataset.dvc").read_text(encoding="utf-8"))["outs"][0]
    assert own["path"] == "dataset" and own["nfiles"] == 1
    run = client_for(project).search_runs(
        [client_for(project).get_experiment_by_name(MODEL).experiment_id]
    )[0]
    assert run.data.tags["fairgate.data_interval"] == expected
