"""One governed ``fairgate run`` on data with groups of 18 and 32 rows in 10,000, under a declared policy.

The policy merges the two small groups into ``other`` (50 rows, still under
the 5% share) and reports ``other`` without gating it.  The audit passes, the
evaluation reports the merged group, and the policy is on the run (tag and
stage record) and in the model card.  Without the policy the same data is
blocked at the audit (tests/data/test_small_group_audit.py, through ``audit_dataset``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.projects import MODEL, client_for, fairgate, versions
from tests.small_groups import small_group_table

REASON = "reviewed 2026-12-07: 18 and 32 rows cannot carry a fairness estimate of their own"
POLICY = {
    "race": {
        "merge": [{"into": "other", "groups": ["amer_indian", "pacific"]}],
        "report_only": ["other"],
        "reason": REASON,
    }
}
SETTINGS: dict[str, object] = {
    "dataset.source": "file",
    "dataset.path": "applications.csv",
    "dataset.target": "default",
    "dataset.time_column": None,
    "dataset.id_columns": ["application_id"],
    "dataset.sensitive": ["race"],
}


def _project(root: Path, **changes: object) -> Path:
    project = make_project(root, **SETTINGS, **changes)
    small_group_table().to_csv(project / "applications.csv", index=False)
    return project


def _stage(project: Path, name: str) -> dict:
    (record,) = sorted((project / "var" / "runs").glob(f"*/stages/*-{name}.json"))
    return json.loads(record.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_merge_and_report_only_policy_runs_through_and_is_recorded(session_root, tmp_path):
    project = _project(session_root / "small-groups-policy", **{"dataset.small_groups": POLICY})
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "\naudit      passed" in result.stdout and "\nevaluate   passed" in result.stdout, result.stdout
    audit = _stage(project, "audit")
    assert audit["details"]["small_groups"]["race"]["reason"] == REASON

    (version,) = versions(project)
    client = client_for(project)
    run = client.get_run(version.run_id)
    recorded = json.loads(run.data.tags["fairgate.small_groups"])
    assert recorded["race"]["merge"] == [{"into": "other", "groups": ["amer_indian", "pacific"]}]

    downloaded = Path(client.download_artifacts(version.run_id, "evaluation/evaluation.json", str(tmp_path)))
    race = json.loads(downloaded.read_text(encoding="utf-8"))["candidate"]["ethical"]["race"]
    assert sorted(race["by_group"]) == ["black", "other", "white"]
    assert 0 < race["by_group"]["other"]["rows"] <= 50
    assert race["report_only"] == {"groups": ["other"], "reason": REASON}

    gate = Path(client.download_artifacts(version.run_id, "gate/gate_report.md", str(tmp_path)))
    assert "ethical.race: groups ['other'] reported, not gated" in gate.read_text(encoding="utf-8")
    card = Path(client.download_artifacts(version.run_id, "model_card/model_card.md", str(tmp_path)))
    text = card.read_text(encoding="utf-8")
    assert "Small-group policies" in text and REASON in text and "amer_indian" in text
    assert MODEL in text
