"""C07 step 4, after the block: a refused batch never reaches a later model's training or holdout data.

Replayed with real ``fairgate run`` projects: a clean month, the migration
hazard (blocked at the audit), then a clean month again.  The migration batch
must be in the quarantine (versioned apart, restorable from the DVC remote),
``data.dvc`` must be what it was before the batch arrived, and the next
model's recorded training and holdout rows must hold no row of it while they
hold every row of the accepted months.  A batch refused by the leakage checks
is quarantined the same way.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from pipelines.core.project import ProjectPaths
from pipelines.data.versioning import file_md5
from tests.conftest import make_project
from tests.projects import MODEL, client_for, fairgate, versions

pytestmark = [pytest.mark.c07, pytest.mark.slow]

RUN_LINE = re.compile(r"^fairgate retrain  run (\S+)$", re.MULTILINE)


def _run_id(stdout: str) -> str:
    found = RUN_LINE.search(stdout)
    assert found, stdout
    return found.group(1)


def _records(root: Path) -> list[dict[str, Any]]:
    return [json.loads(f.read_text(encoding="utf-8")) for f in sorted(root.glob("quarantine/*/*/record.json"))]


def _row_keys(frame: pd.DataFrame) -> set[int]:
    """A hash of each whole row (the columns every frame shares, in one order)."""
    return set(pd.util.hash_pandas_object(frame[sorted(frame.columns)], index=False).astype("int64"))


@pytest.fixture(scope="module")
def replay(session_root: Path) -> dict[str, Any]:
    root = make_project(session_root / "c07-quarantine", **{"generator.rows_per_month": 600})
    first = fairgate(root, "run", "--interval", "2026-01")
    assert first.returncode == 0, first.stdout + first.stderr
    pointer_before = (root / "data.dvc").read_text(encoding="utf-8")
    blocked = fairgate(root, "run", "--interval", "2026-02", "--hazard", "migration")
    pointer_after_block = (root / "data.dvc").read_text(encoding="utf-8")
    records_after_block = _records(root)
    clean = fairgate(root, "run", "--interval", "2026-03")
    return {
        "root": root, "first": first, "blocked": blocked, "clean": clean, "pointer_before": pointer_before,
        "pointer_after_block": pointer_after_block, "records_after_block": records_after_block,
    }


@pytest.mark.fairness
def test_the_migration_batch_blocked_at_audit_is_quarantined_and_data_dvc_is_as_before(replay):
    root, blocked = replay["root"], replay["blocked"]
    assert blocked.returncode == 1, blocked.stdout + blocked.stderr
    assert "\naudit      blocked" in blocked.stdout
    assert replay["pointer_after_block"] == replay["pointer_before"]
    [record] = replay["records_after_block"]
    assert (record["interval"], record["stage"]) == ("2026-02", "audit")
    assert record["batch"] == "data/batches/2025-02.parquet"
    assert any(f.startswith("drift [region]") for f in record["findings"])
    assert record["airflow_run_id"] == _run_id(blocked.stdout)
    kept = root / record["file"]
    assert file_md5(kept) == record["batch_md5"]
    assert not (root / "data" / "batches" / "2025-02.parquet").exists()
    assert (root / "quarantine.dvc").is_file()
    assert (
        f"note: batch 2025-02 of interval 2026-02 quarantined at audit: {record['file']} "
        f"(md5 {record['batch_md5']}, quarantine.dvc "
    ) in blocked.stdout
    tags = client_for(root).get_run(record["mlflow_run_id"]).data.tags
    assert tags["fairgate.blocked_at"] == "audit"


def test_the_next_model_trains_on_the_accepted_months_and_never_on_the_quarantined_batch(replay):
    root, clean = replay["root"], replay["clean"]
    assert clean.returncode == 0, clean.stdout + clean.stderr
    run_dir = ProjectPaths(root).run_dir(_run_id(clean.stdout))
    seen = pd.concat([pd.read_parquet(run_dir / "train.parquet"), pd.read_parquet(run_dir / "holdout.parquet")])
    [record] = replay["records_after_block"]
    refused = pd.read_parquet(root / record["file"])
    assert not set(refused["application_id"]) & set(seen["application_id"])
    assert not _row_keys(refused) & _row_keys(seen)
    # the other direction: every accepted month is there, the one before the block and the one after it
    for month in ("2025-01", "2025-03"):
        accepted = pd.read_parquet(root / "data" / "batches" / f"{month}.parquet")
        assert _row_keys(accepted) <= _row_keys(seen), month
    assert len(seen) == sum(len(pd.read_parquet(f)) for f in (root / "data" / "batches").glob("*.parquet"))
    # the version records the accepted data, and restoring it gives exactly that data back
    latest = versions(root)[-1]
    data_hash = yaml.safe_load((root / "data.dvc").read_text(encoding="utf-8"))["outs"][0]["md5"]
    assert latest.tags["fairgate.data_hash"] == data_hash
    restored = fairgate(root, "data", "restore", "--model-version", str(latest.version))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    folder = root / "var" / "restored" / f"{MODEL}-v{latest.version}" / "data" / "batches"
    names = sorted(p.name for p in folder.iterdir())
    assert "2025-02.parquet" not in names and {"2025-01.parquet", "2025-03.parquet"} <= set(names)
    assert all(file_md5(folder / n) == file_md5(root / "data" / "batches" / n) for n in names)


def test_the_quarantined_batch_is_refused_again_unless_re_ingested_deliberately(replay):
    root = replay["root"]
    [record] = replay["records_after_block"]
    pointer = (root / "data.dvc").read_text(encoding="utf-8")
    # another configuration (not the same run again): the same bytes are refused at ingest, naming the record
    again = fairgate(
        root, "run", "--interval", "2026-02", "--hazard", "migration", "--set", "training.beta_factor=0.99"
    )
    assert again.returncode == 1, again.stdout + again.stderr
    assert "\ningest     blocked" in again.stdout
    assert f"was quarantined at audit by run {record['airflow_run_id']}: {record['record']}" in again.stdout
    assert "\naudit      not run" in again.stdout
    # --force re-ingests it: audited again, refused again, still one record, data.dvc untouched
    forced = fairgate(root, "run", "--interval", "2026-02", "--hazard", "migration", "--force")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert "re-ingested deliberately (--force)" in forced.stdout
    assert "\naudit      blocked" in forced.stdout
    [after] = _records(root)
    assert [r["airflow_run_id"] for r in after["refused_again"]] == [_run_id(forced.stdout)]
    assert (root / "data.dvc").read_text(encoding="utf-8") == pointer
    assert not (root / "data" / "batches" / "2025-02.parquet").exists()


def test_the_quarantine_comes_back_from_the_dvc_remote(replay):
    root = replay["root"]
    [record] = _records(root)
    shutil.rmtree(root / "quarantine")
    shutil.rmtree(root / ".dvc" / "cache")
    pulled = subprocess.run([sys.executable, "-m", "dvc", "pull", "quarantine.dvc"], cwd=root,
                            capture_output=True, text=True, check=False)
    assert pulled.returncode == 0, pulled.stderr
    assert file_md5(root / record["file"]) == record["batch_md5"]
    assert _records(root) == [record]


def test_a_batch_refused_by_the_leakage_checks_is_quarantined_the_same_way(replay):
    root = replay["root"]
    pointer = (root / "data.dvc").read_text(encoding="utf-8")
    config = yaml.safe_load((root / "fairgate.yaml").read_text(encoding="utf-8"))
    config["leakage"]["max_single_feature_auc"] = 0.6  # reviewed and stricter: a clean month now leaks
    (root / "fairgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = fairgate(root, "run", "--interval", "2026-04")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\nleakage    blocked" in result.stdout
    record = next(r for r in _records(root) if r["interval"] == "2026-04")
    assert (record["stage"], record["batch"]) == ("leakage", "data/batches/2025-04.parquet")
    assert "note: batch 2025-04 of interval 2026-04 quarantined at leakage" in result.stdout
    assert (root / "data.dvc").read_text(encoding="utf-8") == pointer
    assert not (root / "data" / "batches" / "2025-04.parquet").exists()
    assert file_md5(root / record["file"]) == record["batch_md5"]
