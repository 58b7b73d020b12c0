"""The guard on ``champion``: file checksums, rollback idempotency, and one writer at a time.

Versions are registered in a temporary MLflow store with the tags and the
``registration`` audit entry ``retrain.register`` writes (including the SHA-256
of every model file), so the real rollback, approval and guard code runs
against them. The concurrency tests start real processes that race for the
alias; the same race without the lock is run too, to show it is caught.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from mlflow.exceptions import MlflowException

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.flows.champion import approve_version, move_champion, rollback
from pipelines.governance import approvals, registry
from pipelines.governance.audit_log import open_log
from pipelines.governance.champion_lock import champion_lock, lock_key
from pipelines.governance.model_integrity import compare, file_checksums, manifest_digest, recorded_checksums

REPO = Path(__file__).resolve().parents[2]


class Project:
    """A temporary project with its own registered model, audit log and MLflow store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = ProjectPaths(root)
        self.config = load_config(self.paths.config_file)
        self.name = self.config.registry.model_name
        self.client = registry.connect(self.paths)

    def entries(self, kind: str | None = None) -> list:
        with open_log(audit_log_url(self.paths, self.config)) as log:
            return [e for e in log.entries() if kind is None or e.kind == kind]

    def champion(self) -> str | None:
        current = registry.champion(self.client, self.name, "champion")
        return None if current is None else str(current.version)

    def register(self, gate: str = "passed", *, ethical: str | None = None, stable: bool = False,
                 awaiting_against: str | None = None) -> str:
        """Register a version as retrain.register does: gate tags, model files, their checksums in the log."""
        try:
            self.client.create_registered_model(self.name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = self.root / "models" / uuid.uuid4().hex
        source.mkdir(parents=True)
        (source / "model.pkl").write_bytes(os.urandom(64))
        (source / "MLmodel").write_text("flavors: {}\n", encoding="utf-8")
        tags = {
            "fairgate.gate.decision": gate,
            "fairgate.gate.technical": gate,
            "fairgate.gate.ethical": ethical or gate,
        }
        if stable:
            tags["fairgate.stable_fair"] = "true"
        if awaiting_against is not None:
            tags["fairgate.awaiting_approval"] = "true"
            tags["fairgate.approval.gated_against"] = awaiting_against
        run = self.client.create_run(registry.ensure_experiment(self.client, self.paths, self.name))
        # the model's files are the run's artifacts, as a logged model's are (a server refuses other sources)
        self.client.log_artifacts(run.info.run_id, str(source), "model")
        model_uri = f"{run.info.artifact_uri}/model"
        created = self.client.create_model_version(self.name, model_uri, run_id=run.info.run_id, tags=tags)
        with open_log(audit_log_url(self.paths, self.config)) as log:
            # what retrain.gate records before the version exists: the decision, by the run it was made in
            passed = {
                "passed": tags["fairgate.gate.decision"] == "passed",
                "technical_passed": tags["fairgate.gate.technical"] == "passed",
                "ethical_passed": tags["fairgate.gate.ethical"] == "passed",
            }
            log.append("gate_decision", "test", {"decision": passed, "mlflow_run_id": run.info.run_id},
                       idempotency_key=f"test:gate_decision:{run.info.run_id}")
            log.append("registration", "test", {"model_files_sha256": file_checksums(source)},
                       model_name=self.name, model_version=created.version,
                       idempotency_key=f"test:registration:{created.version}")
            if awaiting_against is not None:  # what champion.hold_for_approval records beside the waiting tags
                log.append("approval", "test",
                           {"subject": "promotion", "step": "awaiting", "gated_against": awaiting_against},
                           model_name=self.name, model_version=created.version,
                           idempotency_key=f"test:awaiting:{created.version}")
        return str(created.version)

    def source(self, version: str) -> Path:
        uri = self.client.get_model_version(self.name, version).source
        return Path(uri.removeprefix("file://"))

    def promote(self, version: str, run_id: str | None = None) -> None:
        """Move champion as the promote stage does (under the lock, checked, recorded)."""
        with champion_lock(audit_log_url(self.paths, self.config), self.name):
            move_champion(
                self.client, self.name, "champion", version, action="promote", actor="test",
                reason="passed", airflow_run_id=run_id or f"scheduled__{uuid.uuid4().hex}",
                audit_entries=self.entries(),
            )
        with open_log(audit_log_url(self.paths, self.config)) as log:
            log.append("promotion", "test", {"to_version": version, "summary": f"champion -> {version}"},
                       model_name=self.name, model_version=version, idempotency_key=f"test:promotion:{version}")


def new_project(root: Path, mlflow_root: Path) -> Project:
    name = f"guard-{uuid.uuid4().hex[:10]}"
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["registry"]["model_name"] = name
    raw["registry"]["experiment"] = name
    root.mkdir(parents=True, exist_ok=True)
    (root / "fairgate.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    (root / "mlflow").symlink_to(mlflow_root, target_is_directory=True)
    return Project(root)


@pytest.fixture(scope="module")
def shared_mlflow(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("guard-mlflow")


@pytest.fixture
def project(tmp_path, shared_mlflow, monkeypatch) -> Project:
    monkeypatch.setenv("FAIRGATE_HOME", str(tmp_path / "project"))
    monkeypatch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)
    return new_project(tmp_path / "project", shared_mlflow)


# ---------------------------------------------------------------- checksums


def test_checksums_find_a_changed_a_missing_and_an_added_file(tmp_path):
    (tmp_path / "a").write_bytes(b"one")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"two")
    (tmp_path / "registered_model_meta").write_text("name: x\n")  # written by MLflow's registry, not the model
    recorded = file_checksums(tmp_path)
    assert sorted(recorded) == ["a", "sub/b"]
    assert compare(recorded, dict(recorded)) == []
    (tmp_path / "a").write_bytes(b"ONE")
    (tmp_path / "sub" / "b").unlink()
    (tmp_path / "c").write_bytes(b"three")
    assert compare(recorded, file_checksums(tmp_path)) == ["a changed", "sub/b missing", "c added"]
    assert manifest_digest(recorded) == manifest_digest(dict(reversed(list(recorded.items()))))


def test_a_rollback_to_a_version_whose_files_changed_is_refused_and_recorded(project):
    first = project.register(stable=True)
    second = project.register(stable=True)
    project.promote(first)
    project.promote(second)
    (project.source(first) / "model.pkl").write_bytes(b"swapped after the gate")
    with pytest.raises(BlockedError, match=r"do not match the checksums recorded at registration: model.pkl changed"):
        rollback(f"manual__{uuid.uuid4().hex}", "drift", None, actor="alice")
    assert project.champion() == second
    refusal = project.entries("refusal")[-1]
    assert refusal.actor == "alice" and "model.pkl changed" in refusal.payload["reason"]


def test_a_version_without_recorded_checksums_cannot_become_champion(project):
    first = project.register(stable=True)
    second = project.register(stable=True)
    project.promote(first)
    project.promote(second)
    with open_log(audit_log_url(project.paths, project.config)) as log:
        # the registration entry as it would be without checksums (everything else recorded)
        entries = [replace(e, payload_json="{}") if e.kind == "registration" else e for e in log.entries()]
    assert recorded_checksums(entries, first) is None
    with pytest.raises(BlockedError, match="has no model checksums"):
        move_champion(project.client, project.name, "champion", first, action="rollback", actor="t",
                               reason="r", airflow_run_id="x", audit_entries=entries)
    assert project.champion() == second


# ---------------------------------------------------------------- rollback: right target, idempotent, refused


def test_after_three_promotions_rollbacks_land_on_the_right_versions_and_the_log_holds_every_move(project):
    three_promotions_then_rollbacks(project)


def test_the_same_through_a_real_mlflow_server(tmp_path, monkeypatch):
    """The registry behind ``mlflow server`` on 127.0.0.1 (REST API, proxied artifacts), as in production."""
    from pipelines.core import project as project_module
    from tests.servers import mlflow_server

    store = tmp_path / "server-store"
    store.mkdir()
    with mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts", tmp_path / "server-logs") as server:
        monkeypatch.setattr(project_module, "_inherited_tracking_uri", server.base_url)
        monkeypatch.setenv("FAIRGATE_HOME", str(tmp_path / "project"))
        monkeypatch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)
        project = new_project(tmp_path / "project", tmp_path / "unused-local-store")
        assert project_module.tracking_uri(project.paths) == server.base_url
        three_promotions_then_rollbacks(project)


def three_promotions_then_rollbacks(project: Project) -> None:
    """v1..v3 promoted, v4 blocked; rollbacks without and with a target, twice each; the log in order."""
    versions = [project.register(stable=True) for _ in range(3)]
    blocked = project.register("blocked", ethical="blocked")
    for version in versions:
        project.promote(version)
    assert project.champion() == versions[2]

    first = rollback("manual__r1", "approvals for women dropped", None, actor="alice")
    assert (first["from_version"], first["to_version"]) == (versions[2], versions[1])
    # triggered twice: the second run finds the first rollback still standing and moves nothing
    again = rollback("manual__r2", "approvals for women dropped", None, actor="bob")
    assert again["moved"] is False and project.champion() == versions[1]
    assert "nothing moved" in again["summary"] and "name a target version" in again["summary"]
    # a retry of the first run's task changes nothing either
    assert rollback("manual__r1", "approvals for women dropped", None, actor="alice")["already_done"] is True

    with pytest.raises(BlockedError, match="did not pass every gate"):
        rollback("manual__r3", "the ethically blocked one", blocked, actor="carol")
    assert project.champion() == versions[1]

    named = rollback("manual__r4", "back to the first", versions[0], actor="dave")
    assert (named["from_version"], named["to_version"]) == (versions[1], versions[0])
    same = rollback("manual__r5", "back to the first", versions[0], actor="dave")
    assert same["moved"] is False and "already the champion" in same["summary"]

    moves = [(e.kind, e.payload.get("from_version"), e.payload.get("to_version"), e.payload.get("moved", True))
             for e in project.entries() if e.kind in ("promotion", "rollback")]
    assert moves == [
        ("promotion", None, versions[0], True),
        ("promotion", None, versions[1], True),
        ("promotion", None, versions[2], True),
        ("rollback", versions[2], versions[1], True),
        ("rollback", versions[1], versions[1], False),
        ("rollback", versions[1], versions[0], True),
        ("rollback", versions[0], versions[0], False),
    ]
    refusal = project.entries("refusal")[-1]
    assert refusal.actor == "carol" and refusal.payload["requested_version"] == blocked
    with open_log(audit_log_url(project.paths, project.config)) as log:
        assert log.verify().ok


def test_a_second_rollback_goes_further_back_once_the_first_one_no_longer_stands(project):
    versions = [project.register(stable=True) for _ in range(3)]
    for version in versions:
        project.promote(version)
    rollback("manual__a", "first", None, actor="alice")
    with open_log(audit_log_url(project.paths, project.config)) as log:
        freeze_seq = max(e.seq for e in log.entries() if e.kind == "freeze")
        log.append("unfreeze", "alice+bob", {"freeze_seq": freeze_seq, "summary": "lifted"},
                   model_name=project.name, idempotency_key="test:unfreeze")
    further = rollback("manual__b", "still wrong", None, actor="alice")
    assert (further["from_version"], further["to_version"]) == (versions[1], versions[0])


def test_a_rollback_to_an_unknown_version_is_bad_input(project):
    project.promote(project.register(stable=True))
    with pytest.raises(BadInputError, match="has no version 99"):
        rollback("manual__x", "why", 99, actor="alice")


# ---------------------------------------------------------------- one writer at a time


def test_the_lock_key_is_stable_and_per_model():
    assert lock_key("a") == lock_key("a") != lock_key("b")
    assert -(2**63) <= lock_key("a") < 2**63


def test_a_second_holder_waits_for_the_lock_and_times_out_with_one_line(project):
    url = audit_log_url(project.paths, project.config)
    outcome: list[str] = []

    def second_holder() -> None:
        try:
            with champion_lock(url, project.name, timeout=0.3):
                outcome.append("entered")
        except BadInputError as e:
            outcome.append(str(e))

    with champion_lock(url, project.name):
        waiting = threading.Thread(target=second_holder)
        waiting.start()
        waiting.join(30)
    assert len(outcome) == 1 and "held the champion lock for more than 0 s; nothing was moved" in outcome[0]
    outcome.clear()
    second_holder()  # released: the next holder enters
    assert outcome == ["entered"]


def _race(root: str, role: str, use_lock: bool, folder: str) -> None:
    """One side of the race: a rollback, or an approval completing the promotion of the waiting version.

    The interleaving is forced, not hoped for: the approval pauses between its
    checks and its move (marker ``checked``), and the rollback starts only then.
    With the lock, the rollback waits for the approval to finish; without it,
    the rollback moves first and the approval then moves over it.
    """
    os.environ["FAIRGATE_HOME"] = root
    from pipelines.flows import champion as champion_module
    markers = Path(folder)
    if not use_lock:
        from contextlib import nullcontext

        champion_module.champion_lock = lambda *args, **kwargs: nullcontext()
    real_move = champion_module.move_champion

    def paused_move(*args, **kwargs):
        if kwargs.get("action") == "approval":
            (markers / "checked").touch()
            if use_lock:
                time.sleep(1.5)  # holding the lock: the rollback must wait
            else:
                _wait_for(markers / "rolled_back")
        return real_move(*args, **kwargs)

    champion_module.move_champion = paused_move
    try:
        if role == "rollback":
            _wait_for(markers / "checked")
            result = champion_module.rollback("manual__race-rollback", "race", None, actor="carol")
            (markers / "rolled_back").touch()
        else:
            result = champion_module.approve_version("manual__race-approve", 3, "ethical", "bob", "manual")
        (markers / f"{role}.json").write_text(json.dumps({"ok": True, "result": result}, default=str))
    except BlockedError as e:
        (markers / f"{role}.json").write_text(json.dumps({"ok": False, "blocked": e.reasons}))
        (markers / "rolled_back").touch()


def _wait_for(marker: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{marker.name} never appeared")
        time.sleep(0.02)


def _race_setup(project: Project) -> tuple[str, str, str]:
    """v1, v2 promoted; deployments frozen; v3 passed against v2 and holds a technical sign-off."""
    first, second = project.register(stable=True), project.register(stable=True)
    project.promote(first)
    project.promote(second)
    approvals.freeze_deployments(project.paths, project.config, "review", "cli:carol", "test:freeze")
    third = project.register(awaiting_against=second)
    assert third == "3"
    approve_version("manual__tech", third, "technical", "alice", "manual")
    return first, second, third


def _run_race(project: Project, tmp_path: Path, use_lock: bool) -> dict[str, dict]:
    folder = tmp_path / f"race-{use_lock}"
    folder.mkdir()
    # forked: the children start with fairgate and MLflow already imported (a spawned child spends
    # seconds importing them); each opens its own database connections
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=_race, args=(str(project.root), role, use_lock, str(folder)))
        for role in ("rollback", "approve")
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(180)
        assert child.exitcode == 0, f"a racing process failed (exit {child.exitcode})"
    return {role: json.loads((folder / f"{role}.json").read_text()) for role in ("rollback", "approve")}


def _consistent(project: Project, third: str) -> list[str]:
    """What is wrong with the registry and the log after the race (empty when consistent)."""
    problems = []
    history = registry.alias_history(project.client, project.name)
    moves = [e for e in project.entries() if e.kind in ("promotion", "rollback") and e.payload.get("moved", True)]
    logged = [str(e.payload["to_version"]) for e in moves]
    if logged[-1] != project.champion():
        problems.append(f"the audit log's last move is to {logged[-1]}, the champion is {project.champion()}")
    if [m["to_version"] for m in history][-2:] != logged[-2:]:
        problems.append(f"registry moves {[m['to_version'] for m in history]} vs audit log {logged}")
    rollbacks = [e for e in moves if e.kind == "rollback"]
    promoted_after = [e for e in moves if e.kind == "promotion" and str(e.payload["to_version"]) == third
                      and rollbacks and e.seq > rollbacks[-1].seq]
    if promoted_after:
        problems.append("version 3 was promoted after the rollback froze deployments, over the rolled-back champion")
    with open_log(audit_log_url(project.paths, project.config)) as log:
        if not log.verify().ok:
            problems.append("audit chain broken")
    return problems


def test_a_rollback_racing_an_approval_waits_for_it_and_rolls_back_from_the_new_champion(project, tmp_path):
    _, second, third = _race_setup(project)
    outcome = _run_race(project, tmp_path, use_lock=True)
    assert outcome["approve"]["ok"] and outcome["rollback"]["ok"], outcome
    assert outcome["approve"]["result"]["champion"] == third
    assert (outcome["rollback"]["result"]["from_version"], outcome["rollback"]["result"]["to_version"]) == (
        third, second)
    assert project.champion() == second
    assert _consistent(project, third) == []


def test_without_the_lock_the_same_race_promotes_over_the_rollback(project, tmp_path):
    """The check above can fail: without the lock, the approval moves champion over the rollback."""
    _, _, third = _race_setup(project)
    outcome = _run_race(project, tmp_path, use_lock=False)
    assert outcome["rollback"]["ok"] and outcome["approve"]["ok"], outcome
    assert project.champion() == third
    assert "version 3 was promoted after the rollback" in " ".join(_consistent(project, third))
