"""The model card's cost and threshold fields, from hand-made recorded facts (no MLflow needed).

The costs are stated as wrong favourable / wrong unfavourable decisions; a run recorded
before issue 15 holds them under their former names and the card still shows them, saying
so.  The threshold shown is the number compared with the positive label's probability.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.reports.model_card.document import Code, Fields
from pipelines.reports.model_card.facts import RECORDED
from pipelines.reports.model_card.sections_model import _general_fields

FAVOURABLE_LABEL = "Cost of a wrong favourable decision (approving a truly unfavourable case)"
UNFAVOURABLE_LABEL = "Cost of a wrong unfavourable decision (refusing a truly favourable case)"
THRESHOLD_LABEL = "Decision threshold (on the predicted probability of the positive label)"


def _facts(config: dict[str, Any], evaluation: dict[str, Any] | None = None) -> dict[str, Any]:
    artifacts: dict[str, Any] = {"config": {"status": RECORDED, "content": config}}
    if evaluation is not None:
        artifacts["evaluation"] = {"status": RECORDED, "content": {"candidate": evaluation}}
    return {
        "run": {"params": {}},
        "model": {"name": "m", "version": "1", "created_at": None},
        "artifacts": artifacts,
    }


def _fields(facts: dict[str, Any]) -> dict[str, str]:
    fields = _general_fields(facts)
    assert isinstance(fields, Fields)
    return {label: "".join(p.text if isinstance(p, Code) else str(p) for p in cell) for label, cell in fields.rows}


def _config(favourable: bool, decision: dict[str, Any]) -> dict[str, Any]:
    target = "hired" if favourable else "default"
    return {
        "use_case": "u",
        "dataset": {"target": target, "positive_label": 1, "positive_is_favorable": favourable, "sensitive": ["g"]},
        "decision": decision,
    }


def test_a_hiring_card_states_the_costs_and_the_threshold_on_p_hired() -> None:
    decision = {"cost_wrong_favorable": 1.0, "cost_wrong_unfavorable": 3.0, "threshold": None}
    shown = _fields(_facts(_config(True, decision), {"positive_threshold": 0.25, "refusal_threshold": 0.75}))
    assert shown[FAVOURABLE_LABEL] == "1.0"
    assert shown[UNFAVOURABLE_LABEL] == "3.0"
    assert shown[THRESHOLD_LABEL] == "0.25 (as evaluated, recorded in evaluation/evaluation.json)"
    assert shown["Meaning of the positive label"].startswith("hired = 1 is the favourable outcome: the favourable")
    # without an evaluation the same threshold is derived from the recorded costs, in this orientation
    assert _fields(_facts(_config(True, decision)))[THRESHOLD_LABEL] == (
        "0.25 (derived from the recorded costs (no evaluation recorded))"
    )


@pytest.mark.parametrize(("favourable", "threshold"), [(False, repr(1.0 / 6.0)), (True, repr(1.0 - 1.0 / 6.0))])
def test_a_run_recorded_before_the_rename_still_shows_its_costs(favourable: bool, threshold: str) -> None:
    old = {"cost_false_approval": 5.0, "cost_false_refusal": 1.0, "threshold": None}
    shown = _fields(_facts(_config(favourable, old), {"refusal_threshold": 1.0 / 6.0}))
    assert shown[FAVOURABLE_LABEL] == "5.0 (recorded as cost_false_approval)"
    assert shown[UNFAVOURABLE_LABEL] == "1.0 (recorded as cost_false_refusal)"
    # the evaluation then recorded only the refusal threshold t; the old code compared p with t or 1 - t
    assert shown[THRESHOLD_LABEL] == f"{threshold} (from the refusal threshold recorded in evaluation/evaluation.json)"


def test_an_explicit_threshold_is_shown_on_the_positive_class() -> None:
    decision = {"cost_wrong_favorable": 2.0, "cost_wrong_unfavorable": 1.0, "threshold": 0.4}
    assert _fields(_facts(_config(True, decision)))[THRESHOLD_LABEL] == (
        f"{1.0 - 0.4!r} (set explicitly in the recorded configuration)"
    )
    assert _fields(_facts(_config(False, decision)))[THRESHOLD_LABEL] == (
        "0.4 (set explicitly in the recorded configuration)"
    )
