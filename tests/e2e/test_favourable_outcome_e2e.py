"""A dataset whose positive class is the favourable outcome (hired = 1), run through ``fairgate run``.

Before issue 15 the repository's lending cost matrix, copied into a hiring project,
hired only from P(hired = 1) >= 5/6: on this fixture 3.75% of the holdout was hired,
balanced accuracy 0.559, and the run was blocked by the technical gate.  Now the costs
are stated as wrong favourable / wrong unfavourable decisions, a favourable positive class
must state them, and with the hiring team's costs (1 and 3) the run decides from
P(hired = 1) >= 1/4 and is promoted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.model.hiring import hiring_frame
from tests.projects import MODEL, champion_version, client_for, fairgate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HIRING_PROJECT: dict[str, object] = {
    "use_case": "hiring",
    "dataset.source": "file",
    "dataset.path": "hiring.csv",
    "dataset.target": "hired",
    "dataset.positive_is_favorable": True,
    "dataset.time_column": None,
    "dataset.id_columns": [],
    "dataset.sensitive": ["gender"],
}
STATED = {"cost_wrong_favorable": 1.0, "cost_wrong_unfavorable": 3.0, "threshold": None}


def _hiring_project(root: Path, decision: dict[str, object] | None) -> Path:
    changes = dict(HIRING_PROJECT)
    if decision is not None:
        changes["decision"] = decision
    project = make_project(root, **changes)
    if decision is None:  # no decision section at all: the lending defaults would apply
        text = (project / "fairgate.yaml").read_text(encoding="utf-8")
        head, _, tail = text.partition("decision:\n")
        tail = tail[tail.index("\nevaluation:") + 1:]
        (project / "fairgate.yaml").write_text(head + tail, encoding="utf-8")
    hiring_frame().drop(columns=["p_hired"]).to_csv(project / "hiring.csv", index=False)
    return project


@pytest.mark.parametrize(
    ("decision", "line"),
    [
        (None, "fairgate: fairgate.yaml: decision.cost_wrong_favorable: dataset.positive_is_favorable is true, "
               "so state this cost"),
        ({"cost_false_approval": 1.0, "cost_wrong_unfavorable": 3.0},
         "fairgate: fairgate.yaml: decision.cost_false_approval: renamed: write decision.cost_wrong_favorable ("),
        ({**STATED, "cost_wrong_unfavorable": -3.0},
         "fairgate: fairgate.yaml: decision.cost_wrong_unfavorable: Input should be greater than 0"),
    ],
    ids=["unstated", "former-key", "negative"],
)
def test_unstated_renamed_or_bad_costs_stop_with_one_line(
    session_root: Path, request: pytest.FixtureRequest, decision, line
) -> None:
    project = _hiring_project(session_root / f"hiring-refused-{request.node.callspec.id}", decision)
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), lines
    # neither pointer: a file project versions its data in dataset/ (dataset.dvc), never data.dvc
    assert not (project / "dataset.dvc").exists() and not (project / "data.dvc").exists()
    assert not (project / "mlflow" / "mlflow.db").exists()


def test_the_stated_costs_decide_from_a_quarter_and_the_model_is_promoted(session_root: Path) -> None:
    project = _hiring_project(session_root / "hiring-stated", STATED)
    result = fairgate(project, "run", "--interval", "2026-05")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: PROMOTED" in result.stdout
    client = client_for(project)
    version = client.get_model_version(MODEL, champion_version(project))
    evaluation = json.loads(Path(client.download_artifacts(version.run_id, "evaluation/evaluation.json")).read_text())
    candidate = evaluation["candidate"]
    assert (candidate["positive_threshold"], candidate["refusal_threshold"]) == (0.25, 0.75)
    assert candidate["positive_is_favorable"] is True
    # the trap is gone: far more than the 3.75% the lending matrix hired, and the business gate's saving holds
    assert candidate["business"]["approval_rate"] > 0.3
    assert candidate["business"]["cost_saving_vs_best_constant"] > 0.0
