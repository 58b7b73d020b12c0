"""One governed ``fairgate run`` with ``training.mitigation.search`` on data whose base rates are three times apart.

The unit tests (``tests/model/test_mitigation_search.py``) hold the search's
choices and explanations; this run checks the wiring: the train stage keeps a
mitigated option, logs every option to the MLflow run (table and plot), the
gate report shows the trade-off, and the candidate is promoted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
from base_rates import base_rate_frame  # noqa: E402

OPTIONS = [
    {"method": "none"},
    {"method": "reweighing"},
    {"method": "exponentiated_gradient", "constraint": "demographic_parity", "difference_bound": 0.01},
    {"method": "exponentiated_gradient", "constraint": "demographic_parity", "difference_bound": 0.05},
]


@pytest.mark.e2e
@pytest.mark.slow
def test_the_search_promotes_a_mitigated_model_and_logs_every_option(session_root: Path) -> None:
    project = make_project(
        session_root / "e2e-mitigation-search",
        **{
            "dataset.source": "file",
            "dataset.path": "applications.csv",
            "dataset.target": "default",
            "dataset.time_column": "decided_at",
            "dataset.id_columns": ["application_id"],
            "dataset.sensitive": ["group"],
            "dataset.exclude_columns": {},
            "training.mitigation.search": {"validation_fraction": 0.25, "options": OPTIONS},
        },
    )
    base_rate_frame().to_csv(project / "applications.csv", index=False)
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: PROMOTED" in result.stdout
    assert "mitigation search kept exponentiated_gradient(" in result.stdout
    assert f"of {len(OPTIONS)} (passed on validation)" in result.stdout

    client = client_for(project)
    version = client.get_model_version(MODEL, champion_version(project))
    mitigation = json.loads(version.tags["fairgate.mitigation"])
    assert mitigation["method"] != "none"
    assert mitigation["search"]["passed_on_validation"] is True
    assert mitigation["search"]["options"] == len(OPTIONS)
    logged = {a.path for a in client.list_artifacts(version.run_id, "training/mitigation_search")}
    assert {f"training/mitigation_search/mitigation_search.{ext}" for ext in ("json", "csv", "md", "png")} <= logged
    search = json.loads(
        Path(client.download_artifacts(version.run_id, "training/mitigation_search/mitigation_search.json"))
        .read_text(encoding="utf-8")
    )
    assert [o["label"] for o in search["options"]][:2] == ["none", "reweighing"]
    assert search["chosen_label"] == mitigation["search"]["kept"]
    report = Path(client.download_artifacts(version.run_id, "gate/gate_report.md")).read_text(encoding="utf-8")
    assert "## Mitigation search (validation split)" in report
    assert f"{search['chosen_label']} (kept)" in report


@pytest.mark.e2e
@pytest.mark.slow
def test_a_threshold_optimizer_run_serves_its_group_thresholds(session_root: Path) -> None:
    """With the sensitive attribute declared a model input, ThresholdOptimizer trains, is gated and promoted.

    The gate asks for demographic parity only (the criterion this option
    enforces); the registered champion's signature carries ``group``.
    """
    project = make_project(
        session_root / "e2e-threshold-optimizer",
        **{
            "dataset.source": "file",
            "dataset.path": "applications.csv",
            "dataset.target": "default",
            "dataset.time_column": "decided_at",
            "dataset.id_columns": ["application_id"],
            "dataset.sensitive": ["group"],
            "dataset.exclude_columns": {},
            "dataset.use_sensitive_as_feature": True,
            "training.mitigation": {"method": "threshold_optimizer", "constraint": "demographic_parity"},
            "gate.ethical": {"demographic_parity_ratio": {"min": 0.8}, "demographic_parity_difference": {"max": 0.1}},
        },
    )
    base_rate_frame().to_csv(project / "applications.csv", index=False)
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: PROMOTED" in result.stdout

    client = client_for(project)
    version = client.get_model_version(MODEL, champion_version(project))
    mitigation = json.loads(version.tags["fairgate.mitigation"])
    assert mitigation["method"] == "threshold_optimizer"
    assert mitigation["sensitive_at_decision"] == ["group"]
    assert set(mitigation["group_rules"]) == {"a", "b"}
    evaluation = json.loads(
        Path(client.download_artifacts(version.run_id, "evaluation/evaluation.json")).read_text(encoding="utf-8")
    )
    assert evaluation["candidate"]["ethical"]["group"]["demographic_parity_difference"] < 0.05
