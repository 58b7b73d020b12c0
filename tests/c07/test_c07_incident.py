"""The C07 regression suite: each failure of the incident, replayed against the real pipeline.

Every test names the incident step it replays (DESIGN.md, "Why it exists") and
asserts which stage caught it.  The training faults are injected into real
``fairgate run`` processes (Airflow ``dags test`` of the ``retrain`` DAG) by
``tests/c07/faults/sitecustomize.py``; nothing in ``pipelines`` knows about them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, make_project
from tests.projects import MODEL, champion_version, client_for, fairgate, versions

pytestmark = [pytest.mark.c07, pytest.mark.slow]

FAULTS_DIR = REPO / "tests" / "c07" / "faults"


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    root = make_project(session_root / "c07-project", **{"generator.rows_per_month": 600})
    first = fairgate(root, "run", "--interval", "2026-01")
    assert first.returncode == 0, first.stdout + first.stderr
    return root


def c07_fault(fault: str) -> dict[str, str]:
    """The environment that makes every Python process of a run load the fault injector."""
    return {
        "FAIRGATE_C07_FAULT": fault,
        "PYTHONPATH": os.pathsep.join([str(FAULTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }


def client(project: Path):
    return client_for(project)


def champion(project: Path) -> str | None:
    return champion_version(project)


def version_count(project: Path) -> int:
    return len(versions(project))


def last_run_tags(project: Path) -> dict[str, str]:
    c = client(project)
    runs = c.search_runs([c.get_experiment_by_name(MODEL).experiment_id], order_by=["attributes.start_time DESC"])
    return runs[0].data.tags


# ---------------------------------------------------------------- steps 1 and 2: the training faults


@pytest.mark.parametrize(
    ("step", "fault", "evidence"),
    [
        ("C07 step 1: class weights rounded with round(..., 3)", "rounded_weights", "the estimator received 0."),
        ("C07 step 2: a fast path that ignored beta_factor", "beta_ignored", "the estimator received 1.0 on"),
        (
            "C07 step 2: a fast path that skipped the rare class",
            "rare_class_dropped",
            "for class 1: the estimator received 0.0",
        ),
    ],
    ids=["step1-rounded", "step2-beta-ignored", "step2-rare-class-dropped"],
)
def test_training_fault_is_blocked_by_the_training_fingerprint_check(project, step, fault, evidence):
    before = version_count(project)
    result = fairgate(project, "run", "--interval", "2026-02", "--force", extra_env=c07_fault(fault))
    assert result.returncode == 1, step + "\n" + result.stdout + result.stderr
    assert "outcome: BLOCKED" in result.stdout
    assert "\ntrain      blocked" in result.stdout, result.stdout
    assert "training fingerprint mismatch for class" in result.stdout
    assert evidence in result.stdout, result.stdout
    assert "the 50-digit reference gives" in result.stdout
    # nothing registered, nothing promoted, and the reason is on the MLflow run
    assert champion(project) == "1"
    assert version_count(project) == before
    tags = last_run_tags(project)
    assert tags["fairgate.blocked_at"] == "train"
    assert "training fingerprint mismatch for class" in tags["fairgate.blocked_reasons"]


def test_the_fault_injector_is_real_the_same_run_without_it_passes_the_check(project):
    """Both directions: the check that blocked the faults lets the real weights through."""
    result = fairgate(project, "run", "--interval", "2026-02", "--force")
    assert "\ntrain      passed" in result.stdout, result.stdout + result.stderr
    runs = sorted((project / "var" / "runs").glob("*/train/fingerprint.json"), key=lambda p: p.stat().st_mtime)
    fingerprint = json.loads(runs[-1].read_text())
    assert fingerprint["reference_check"]["verdict"] == "passed"
    assert 0 <= fingerprint["reference_check"]["max_ulp_found"] <= fingerprint["reference_check"]["max_ulp_allowed"]
    assert set(fingerprint["class_weights_hex"]) == {"0", "1"}


# ---------------------------------------------------------------- step 2: a speed-up that changes results


def c07_fast_sample_weights(labels: np.ndarray, beta: float) -> np.ndarray:
    """The C07 "vectorized optimisation": inverse frequency, beta ignored, rare classes skipped."""
    values, counts = np.unique(labels, return_counts=True)
    keep = counts >= 10  # "edge cases" skipped
    weights = dict(zip(values[keep], len(labels) / (len(values) * counts[keep]), strict=True))
    return np.array([weights.get(v, 1.0) for v in labels])


EDGE_CASES = [
    (np.array([0] * 999 + [1]), 0.9999),  # a class with one sample
    (np.array(["a"] * 50 + ["b"] * 3 + ["c"] * 20), 0.99),  # strings, a rare class
    (np.array([0] * 900 + [1] * 100), 0.0),  # beta 0: no re-balancing
    (np.array([0] * 900 + [1] * 100), 1.0),  # beta 1: the limit
    (np.array([0] * 900 + [1] * 100), 1 - 2**-40),  # beta next to 1
]


def equivalent_on_edge_cases(fast, reference) -> list[str]:
    """Where a fast path's output differs from the reference's, bit for bit."""
    differences = []
    for labels, beta in EDGE_CASES:
        got, want = np.asarray(fast(labels, beta), dtype=np.float64), np.asarray(reference(labels, beta))
        if got.shape != want.shape or got.tobytes() != want.tobytes():
            differences.append(f"labels {np.unique(labels).tolist()} beta {beta!r}")
    return differences


def production_loop(labels: np.ndarray, beta: float) -> np.ndarray:
    from pipelines.model.weights import training_weights

    plan = training_weights(labels, beta)
    return np.array([plan.class_weights[label.item()] for label in labels], dtype=np.float64)


def production_vectorised(labels: np.ndarray, beta: float) -> np.ndarray:
    from pipelines.model.weights import per_sample_weights, training_weights

    return per_sample_weights(training_weights(labels, beta), labels)


def test_step2_a_speed_up_that_changes_results_is_caught_by_the_equivalence_tests():
    """C07 step 2: the 93.1% "speed-up" skipped edge cases and ignored beta_factor."""
    caught = equivalent_on_edge_cases(c07_fast_sample_weights, production_loop)
    # at beta = 1 exactly the shortcut is the right limit (inverse frequency): one typical case can
    # look fine, which is why the equivalence runs on every edge case
    assert caught == [
        "labels [0, 1] beta 0.9999",
        "labels ['a', 'b', 'c'] beta 0.99",
        "labels [0, 1] beta 0.0",
        "labels [0, 1] beta 0.9999999999990905",
    ]
    # and the project's own fast path is identical to its loop on the same cases
    assert equivalent_on_edge_cases(production_vectorised, production_loop) == []


# ---------------------------------------------------------------- step 3: overriding red alerts


@pytest.mark.fairness
def test_step3_a_model_that_failed_the_fairness_gate_cannot_be_promoted_by_any_route(project, monkeypatch):
    """C07 step 3: a manual override of red alerts let a model ship."""
    # a candidate the ethical gate refuses (a tighter bound is a legitimate per-run override)
    result = fairgate(
        project, "run", "--interval", "2026-03", "--set", "gate.ethical.demographic_parity_difference.max=0.000001"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\ngate       blocked" in result.stdout and "demographic_parity_difference" in result.stdout
    unfair = versions(project)[-1]
    assert unfair.tags["fairgate.gate.ethical"] == "blocked"
    held = champion(project)

    # route 1: a rollback that names it
    refused = fairgate(project, "rollback", "--reason", "ship it anyway", "--to", str(unfair.version))
    assert refused.returncode == 1 and "did not pass every gate" in refused.stderr

    # route 2: a per-run override that loosens the ethical gate
    loosened = fairgate(
        project, "run", "--interval", "2026-03", "--force", "--set", "gate.ethical.demographic_parity_ratio.min=0.1"
    )
    assert loosened.returncode == 1
    assert "override refused: gate.ethical.demographic_parity_ratio.min would go from 0.8 to 0.1" in loosened.stderr
    assert champion(project) == held

    # route 3: the two-person approval (what the approve DAG runs), by two people, with the waiting tag forged
    from pipelines.core.errors import BlockedError
    from pipelines.flows.champion import approve_version

    monkeypatch.setenv("FAIRGATE_HOME", str(project))
    client(project).set_model_version_tag(MODEL, str(unfair.version), "fairgate.awaiting_approval", "true")
    for actor, sign_off in (("alice", "technical"), ("bob", "ethical")):
        with pytest.raises(BlockedError, match="cannot be approved: it did not pass every gate"):
            approve_version(f"c07-approve-{actor}", unfair.version, sign_off, actor, "manual")
    assert champion(project) == held

    # every refusal is in the tamper-evident audit log, and the chain is intact
    log = fairgate(project, "audit", "log", "--json")
    refusals = [e for e in json.loads(log.stdout) if e["kind"] == "refusal"]
    reasons = {(e["payload"]["what"], e["payload"]["reason"]) for e in refusals}
    assert any(what == "rollback" and "did not pass every gate" in why for what, why in reasons)
    assert any(what == "run overrides" and "demographic_parity_ratio" in why for what, why in reasons)
    approvals = [e["actor"] for e in refusals if e["payload"]["what"] == "approval"]
    assert approvals == ["alice", "bob"]
    verify = fairgate(project, "audit", "verify")
    assert verify.returncode == 0 and "chain intact" in verify.stdout

    # route 4: a direct call to the one function that moves the alias (what an approval uses)
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths, audit_log_url
    from pipelines.flows.champion import move_champion
    from pipelines.governance.audit_log import open_log

    with open_log(audit_log_url(ProjectPaths(project), load_config(project / "fairgate.yaml"))) as log:
        entries = log.entries()
    with pytest.raises(BlockedError, match="did not pass every gate according to the audit log"):
        move_champion(
            client(project), MODEL, "champion", str(unfair.version),
            action="approve", actor="c07-test", reason="override", airflow_run_id="c07-manual",
            audit_entries=entries,
        )
    with pytest.raises(BlockedError, match="holds no registration entry"):  # nothing recorded: nothing moves
        move_champion(
            client(project), MODEL, "champion", str(unfair.version),
            action="approve", actor="c07-test", reason="override", airflow_run_id="c07-manual",
            audit_entries=[],
        )
    assert champion(project) == held


# ---------------------------------------------------------------- step 4: the unregulated migration


@pytest.mark.fairness
def test_step4_a_migrated_batch_is_blocked_by_the_data_audit(project):
    """C07 step 4: a data migration shifted the input distribution; the model "stayed stable"."""
    result = fairgate(project, "run", "--interval", "2026-04", "--hazard", "migration")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\naudit      blocked" in result.stdout
    assert "region" in result.stdout
    tags = last_run_tags(project)
    assert tags["fairgate.blocked_at"] == "audit"


# ---------------------------------------------------------------- step 6: partial CI


def test_partial_ci_fails_when_the_blocking_tests_did_not_run(tmp_path):
    """C07: a model shipped with partial CI. `make test` fails when c07/fairness tests were left out."""
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/code/test_split.py", "--require-blocking-tests", "-q",
         "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 1, completed.stdout[-2000:]
    assert "blocking tests did not run" in completed.stdout
    assert "c07: 0 passed" in completed.stdout and "fairness: 0 passed" in completed.stdout
