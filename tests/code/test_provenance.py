"""``fairgate data restore`` and ``fairgate lineage`` on a real DVC repository and MLflow store.

The project is a real DVC repository with a local remote; two data versions
are made with ``dvc add`` / ``dvc push`` (through ``pipelines.data.versioning``),
and registered versions carry their hashes, as ``retrain.register`` writes them.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.data import versioning
from pipelines.governance import registry
from pipelines.governance.audit_log import open_log
from pipelines.governance.provenance import lineage_chain, render_lineage, restore_data
from tests.conftest import make_project
from tests.projects import fairgate


def write_month(paths: ProjectPaths, month: str, rows: int) -> pd.DataFrame:
    frame = pd.DataFrame({"id": range(rows), "income": [1000.5 + i for i in range(rows)], "month": month})
    paths.batches_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.batches_dir / f"{month}.parquet", index=False)
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("provenance") / "project")
    paths = ProjectPaths(root)
    config = load_config(paths.config_file)
    write_month(paths, "2024-01", 50)
    first_hash = versioning.version_data(paths)
    write_month(paths, "2024-02", 70)
    second_hash = versioning.version_data(paths)
    client = registry.connect(paths)
    name = config.registry.model_name
    client.create_registered_model(name)
    source = root / "model"
    source.mkdir()
    versions = {}
    for data_hash, interval in ((first_hash, "2024-01"), (second_hash, "2024-02"), (None, "2024-03")):
        tags = {"fairgate.data_interval": interval, "fairgate.gate.decision": "passed"}
        if data_hash:
            tags["fairgate.data_hash"] = data_hash
        run = client.create_run(registry.ensure_experiment(client, paths, name))
        created = client.create_model_version(name, source.as_uri(), run_id=run.info.run_id, tags=tags)
        versions[interval] = str(created.version)
    return {"root": root, "paths": paths, "config": config, "hashes": (first_hash, second_hash), "versions": versions}


def test_restore_puts_back_exactly_the_data_a_version_trained_on(project, tmp_path):
    paths, config = project["paths"], project["config"]
    restored = restore_data(paths, config, project["versions"]["2024-01"], tmp_path / "v1")
    assert restored["data_hash"] == project["hashes"][0]
    assert sorted(restored["files"]) == ["batches/2024-01.parquet"]
    assert restored["rows"] == 50
    frame = pd.read_parquet(tmp_path / "v1" / "batches" / "2024-01.parquet")
    assert frame["income"].tolist() == [1000.5 + i for i in range(50)]
    later = restore_data(paths, config, project["versions"]["2024-02"], tmp_path / "v2")
    assert sorted(later["files"]) == ["batches/2024-01.parquet", "batches/2024-02.parquet"] and later["rows"] == 120


def test_restore_refuses_a_folder_that_is_not_empty_and_writes_nothing(project, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="exists and is not empty"):
        restore_data(project["paths"], project["config"], project["versions"]["2024-01"], tmp_path / "busy")
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


def test_a_version_that_recorded_no_data_hash_is_reported_never_approximated(project, tmp_path):
    with pytest.raises(BlockedError, match="has no fairgate.data_hash tag"):
        restore_data(project["paths"], project["config"], project["versions"]["2024-03"], tmp_path / "v3")
    assert not (tmp_path / "v3").exists()


def test_restore_by_the_cli(project, tmp_path):
    done = fairgate(project["root"], "data", "restore", "--model-version", project["versions"]["2024-01"],
                    "--to", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    assert "1 file(s), 50 rows" in done.stdout and "verified" in done.stdout
    with pytest.raises(BadInputError, match="has no version 99"):  # the CLI prints it as one line, exit 2
        restore_data(project["paths"], project["config"], "99", tmp_path / "none")


def test_data_that_is_gone_from_cache_and_remote_is_reported_as_missing(project, tmp_path):
    """Both directions: the same version restores, then not once its objects are gone everywhere."""
    root, paths, config = project["root"], project["paths"], project["config"]
    version, data_hash = project["versions"]["2024-01"], project["hashes"][0]
    restore_data(paths, config, version, tmp_path / "before")
    month_md5 = json.loads((root / ".dvc" / "cache" / "files" / "md5" / data_hash[:2] / data_hash[2:])
                           .read_text())[0]["md5"]
    for store in (root / ".dvc" / "cache" / "files" / "md5", root.parent / f"{root.name}-remote" / "files" / "md5"):
        shutil.move(store / month_md5[:2] / month_md5[2:], tmp_path / f"kept-{store.parts[-4]}")
    try:
        with pytest.raises(BlockedError, match="cannot be restored"):
            restore_data(paths, config, version, tmp_path / "after")
        assert not (tmp_path / "after").exists()
    finally:
        for store in (root / ".dvc" / "cache" / "files" / "md5",
                      root.parent / f"{root.name}-remote" / "files" / "md5"):
            shutil.move(tmp_path / f"kept-{store.parts[-4]}", store / month_md5[:2] / month_md5[2:])


def test_a_corrupted_cache_file_is_caught_by_the_md5_check(project, tmp_path):
    root, paths, config = project["root"], project["paths"], project["config"]
    version, data_hash = project["versions"]["2024-01"], project["hashes"][0]
    month_md5 = json.loads((root / ".dvc" / "cache" / "files" / "md5" / data_hash[:2] / data_hash[2:])
                           .read_text())[0]["md5"]
    cached = root / ".dvc" / "cache" / "files" / "md5" / month_md5[:2] / month_md5[2:]
    original = cached.read_bytes()
    cached.chmod(0o644)
    cached.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        with pytest.raises(BlockedError, match="does not match its recorded hash"):
            restore_data(paths, config, version, tmp_path / "corrupt")
        assert not (tmp_path / "corrupt").exists()
    finally:
        cached.write_bytes(original)


def test_the_lineage_chain_reads_the_recorded_facts_and_every_alias_move(project):
    paths, config = project["paths"], project["config"]
    version = project["versions"]["2024-02"]
    name = config.registry.model_name
    with open_log(audit_log_url(paths, config)) as log:
        log.append("registration", "airflow:test", {"summary": "registered"}, model_name=name,
                   model_version=version, idempotency_key="t:registration")
        log.append("promotion", "airflow:test", {"from_version": None, "to_version": version, "reason": "passed"},
                   model_name=name, model_version=version, idempotency_key="t:promotion")
        log.append("rollback", "alice", {"from_version": version, "to_version": "1", "reason": "drift"},
                   model_name=name, model_version="1", idempotency_key="t:rollback")
    chain = lineage_chain(paths, config, version)
    assert chain["data"]["data_hash"] == project["hashes"][1]
    assert [(m["kind"], m["from_version"], m["to_version"], m["actor"]) for m in chain["alias_moves"]] == [
        ("promotion", None, version, "airflow:test"), ("rollback", version, "1", "alice")]
    assert chain["audit_log_intact"] is True
    text = render_lineage(chain)
    assert project["hashes"][1] in text and "rollback" in text and "by alice: drift" in text
    assert "audit         not recorded" in text  # this version's run recorded no audit verdict
