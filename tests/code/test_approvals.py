"""Freeze switch and two-person approval (pipelines/approvals.py) on a temporary audit log and registry.

Each test gets its own project folder (its own ``fairgate.yaml`` naming its own
registered model, its own SQLite audit log under ``var/audit``); the MLflow
SQLite store is shared by the module (its schema takes seconds to create), and
each test registers versions of its own model in it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import pytest
import yaml
from mlflow.exceptions import MlflowException

from pipelines.core.config import load_config
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.flows import champion
from pipelines.governance import approvals, registry
from pipelines.governance.approvals import SignOff, decide, freeze_state
from pipelines.governance.audit_log import open_log
from pipelines.governance.model_integrity import file_checksums

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Project:
    """A temporary project: its paths, configuration, model name and an MLflow client."""

    paths: ProjectPaths
    config: object
    name: str
    client: object

    def log(self):
        return open_log(audit_log_url(self.paths, self.config))

    def entries(self, kind: str | None = None) -> list:
        with self.log() as log:
            return [e for e in log.entries() if kind is None or e.kind == kind]

    def champion(self) -> str | None:
        current = registry.champion(self.client, self.name, "champion")
        return None if current is None else str(current.version)

    def register(self, gate: str = "passed", *, technical: str | None = None, ethical: str | None = None,
                 awaiting: bool = False, gated_against: str | None = None, stable: bool = False,
                 policy: dict | None = None, small_groups: dict | None = None) -> str:
        """Register a version with the gate tags `retrain.register` writes (and the waiting tags when asked)."""
        try:
            self.client.create_registered_model(self.name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = self.paths.root / "model"
        source.mkdir(exist_ok=True)
        (source / "model.pkl").write_bytes(f"model of {self.name}".encode())
        tags = {
            "fairgate.gate.decision": gate,
            "fairgate.gate.technical": technical or gate,
            "fairgate.gate.ethical": ethical or gate,
        }
        if awaiting:
            tags["fairgate.awaiting_approval"] = "true"
            tags["fairgate.approval.gated_against"] = gated_against or "none"
        if stable:
            tags["fairgate.stable_fair"] = "true"
        run = self.client.create_run(registry.ensure_experiment(self.client, self.paths, self.name))
        created = self.client.create_model_version(self.name, source.as_uri(), run_id=run.info.run_id, tags=tags)
        # what retrain.register records: the checksums every move of champion verifies the files against
        with self.log() as log:
            # what retrain.gate records before the version exists: the decision, by the run it was made in
            passed = {
                "passed": tags["fairgate.gate.decision"] == "passed",
                "technical_passed": tags["fairgate.gate.technical"] == "passed",
                "ethical_passed": tags["fairgate.gate.ethical"] == "passed",
            }
            recorded = {"decision": passed, "mlflow_run_id": run.info.run_id}
            if policy is not None:
                recorded["policy"] = policy
            if small_groups is not None:
                recorded["small_groups"] = small_groups
            log.append("gate_decision", "test", recorded,
                       idempotency_key=f"test:gate_decision:{run.info.run_id}")
            log.append("registration", "test", {"model_files_sha256": file_checksums(source)},
                       model_name=self.name, model_version=created.version,
                       idempotency_key=f"test:registration:{created.version}")
            if awaiting:  # what champion.hold_for_approval records beside the waiting tags
                log.append("approval", "test",
                           {"subject": "promotion", "step": "awaiting", "gated_against": gated_against},
                           model_name=self.name, model_version=created.version,
                           idempotency_key=f"test:awaiting:{created.version}")
        return str(created.version)

    def make_champion(self, version: str) -> None:
        """Put ``version`` in place as a recorded promotion would (the alias and its audit-log entry)."""
        self.client.set_registered_model_alias(self.name, "champion", version)
        with self.log() as log:
            log.append("promotion", "test", {"to_version": version, "moved": True, "summary": f"champion -> {version}"},
                       model_name=self.name, model_version=version,
                       idempotency_key=f"test:promotion:{uuid.uuid4().hex}")


@pytest.fixture(scope="module")
def shared_mlflow(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("approvals-mlflow")


@pytest.fixture
def project(tmp_path, shared_mlflow, monkeypatch) -> Project:
    name = f"approvals-{uuid.uuid4().hex[:10]}"
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["registry"]["model_name"] = name
    raw["registry"]["experiment"] = name
    (tmp_path / "fairgate.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    (tmp_path / "mlflow").symlink_to(shared_mlflow, target_is_directory=True)
    monkeypatch.setenv("FAIRGATE_HOME", str(tmp_path))
    monkeypatch.delenv("FAIRGATE_AUDIT_LOG_URL", raising=False)
    paths = ProjectPaths(tmp_path)
    return Project(paths, load_config(paths.config_file), name, registry.connect(paths))


@pytest.fixture
def waiting(project) -> tuple[Project, str]:
    """Champion v1, deployments frozen, v2 passed both gates against v1 and waits."""
    first = project.register(stable=True)
    project.make_champion(first)
    approvals.freeze_deployments(project.paths, project.config, "incident review", "cli:carol", "test:freeze")
    candidate = project.register(awaiting=True, gated_against=first)
    return project, candidate


def sign(version: str, sign_off: str, actor: str | None, run_id: str | None = None, run_type: str = "manual"):
    return champion.approve_version(run_id or f"manual__{uuid.uuid4().hex}", version, sign_off, actor, run_type)


# ---------------------------------------------------------------- the decision: who signed what, is it enough


def signed(*pairs: tuple[str, str]) -> list[SignOff]:
    return [SignOff(seq, actor, kind) for seq, (actor, kind) in enumerate(pairs, start=1)]


def test_nobody_signed_is_not_enough():
    decision = decide([])
    assert not decision.enough
    assert decision.missing == ["a technical sign-off", "an ethical sign-off (from another person)"]


def test_one_approver_is_not_enough():
    decision = decide(signed(("alice", "technical")))
    assert not decision.enough and decision.approved_by == {}
    assert decision.missing == ["an ethical sign-off from someone other than alice"]


def test_the_same_approver_giving_both_sign_offs_is_not_enough():
    decision = decide(signed(("alice", "technical"), ("alice", "ethical")))
    assert not decision.enough
    assert decision.both_kinds == ("alice",)
    assert decision.missing == ["a technical and an ethical sign-off from two different people"]


def test_two_technical_sign_offs_are_not_enough():
    assert not decide(signed(("alice", "technical"), ("bob", "technical"))).enough


def test_two_distinct_approvers_are_enough():
    decision = decide(signed(("alice", "technical"), ("bob", "ethical")))
    assert decision.enough and decision.approved_by == {"technical": "alice", "ethical": "bob"}
    assert decision.describe() == "technical: alice; ethical: bob; enough (technical alice, ethical bob)"


def test_a_distinct_pair_is_found_even_next_to_a_person_who_signed_both():
    decision = decide(signed(("alice", "technical"), ("alice", "ethical"), ("bob", "ethical")))
    assert decision.enough and decision.approved_by == {"technical": "alice", "ethical": "bob"}


# ---------------------------------------------------------------- the freeze switch


def test_freeze_state_is_the_latest_freeze_or_unfreeze_entry(tmp_path):
    with open_log(f"sqlite:///{tmp_path / 'audit.db'}") as log:
        assert freeze_state(log.entries(), "m") == approvals.FreezeState(frozen=False)
        log.append("freeze", "cli:carol", {"reason": "C07"}, model_name="m", idempotency_key="k1")
        log.append("freeze", "cli:dan", {"reason": "other model"}, model_name="other", idempotency_key="k2")
        state = freeze_state(log.entries(), "m")
        assert state.frozen and state.seq == 1 and state.actor == "cli:carol" and state.reason == "C07"
        assert state.describe().startswith("FROZEN since ") and state.describe().endswith("(audit entry 1): C07")
        log.append("unfreeze", "bob", {"reason": "two sign-offs"}, model_name="m", idempotency_key="k3")
        assert not freeze_state(log.entries(), "m").frozen
        assert freeze_state(log.entries(), "other").frozen  # one model's switch is its own
        log.append("freeze", "airflow:rollback", {"reason": "rollback"}, model_name="m", idempotency_key="k4")
        assert freeze_state(log.entries(), "m").seq == 4


def test_freezing_needs_a_reason_and_is_idempotent_by_key(project):
    with pytest.raises(BadInputError, match="freezing needs a reason"):
        approvals.freeze_deployments(project.paths, project.config, "  ", "cli:carol", "k")
    first = approvals.freeze_deployments(project.paths, project.config, "drift", "cli:carol", "run-1:freeze")
    again = approvals.freeze_deployments(project.paths, project.config, "drift", "cli:carol", "run-1:freeze")
    assert first == again and len(project.entries("freeze")) == 1
    assert approvals.current_freeze(project.paths, project.config).frozen


def promote_state(airflow_run_id: str, interval: str, version: str, decision_file: Path) -> dict:
    """The run state the promote stage receives from register: the run reference, the gate's, the version."""
    return {
        "ref": {"airflow_run_id": airflow_run_id, "dag_id": "retrain", "interval": interval, "overrides": {},
                "actor": "airflow:scheduler"},
        "gated": {"decision": "passed", "technical": "passed", "ethical": "passed", "reasons": [],
                  "uncertain_checks": [], "notes": [], "decision_file": str(decision_file)},
        "registered": {"version": version},
    }


def test_a_frozen_pipeline_registers_but_does_not_promote_a_passed_candidate(project, tmp_path):
    """champion.promote while frozen: verdict 'waiting', version tagged, audit entry, champion unchanged."""
    first = project.register(stable=True)
    project.make_champion(first)
    approvals.freeze_deployments(project.paths, project.config, "incident review", "cli:carol", "test:freeze")
    candidate = project.register()
    decision_file = tmp_path / "gate_decision.json"
    decision_file.write_text(json.dumps({"passed": True, "champion_version": first}))
    state = promote_state("scheduled__2026-02", "2026-02", candidate, decision_file)
    for _ in range(2):  # a retried task changes nothing more
        held = champion.promote(state)["promoted"]
    assert held["awaiting_approval"] and held["gated_against"] == first
    assert project.champion() == first
    tags = registry.get_version(project.client, project.name, candidate).tags
    assert tags["fairgate.awaiting_approval"] == "true" and tags["fairgate.approval.gated_against"] == first
    (awaiting,) = project.entries("approval")
    assert awaiting.payload["step"] == "awaiting" and awaiting.model_version == int(candidate)
    record = json.loads((project.paths.run_dir("scheduled__2026-02") / "stages" / "08-promote.json").read_text())
    assert record["verdict"] == "waiting"
    assert any("waits for a technical and an ethical sign-off" in reason for reason in record["reasons"])
    from pipelines.flows.cli import outcome

    assert outcome([record]) == (0, "waiting for approval")


def test_an_unfrozen_pipeline_promotes_a_passed_candidate(project, tmp_path):
    candidate = project.register()
    decision_file = tmp_path / "gate_decision.json"
    decision_file.write_text(json.dumps({"passed": True, "champion_version": None}))
    state = promote_state("scheduled__2026-01", "2026-01", candidate, decision_file)
    for _ in range(2):  # the retry finds its own move and repeats the same audit event
        moved = champion.promote(state)["promoted"]
    assert moved["to_version"] == candidate and project.champion() == candidate
    assert len(project.entries("promotion")) == 1


def test_every_rollback_freezes_and_a_retry_freezes_once(project):
    first = project.register(stable=True)
    second = project.register(stable=True)
    project.make_champion(first)  # served before: the record of it is what makes it a rollback target
    project.make_champion(second)
    for _ in range(2):
        champion.rollback("manual__rollback-1", "v2 misbehaves", None, actor="alice")
    assert project.champion() == first
    (frozen,) = project.entries("freeze")
    assert frozen.actor == "alice" and frozen.payload["cause"] == "rollback"
    assert frozen.payload["reason"] == f"rollback of champion {second} -> {first}: v2 misbehaves"
    assert len(project.entries("rollback")) == 1
    assert approvals.current_freeze(project.paths, project.config).frozen


# ---------------------------------------------------------------- approving a waiting version


def test_one_approver_does_not_promote(waiting):
    project, candidate = waiting
    result = sign(candidate, "technical", "alice")
    assert result["promoted"] is False
    assert "still needs an ethical sign-off from someone other than alice" in result["summary"]
    assert project.champion() != candidate
    (signed_off,) = [e for e in project.entries("approval") if e.payload["step"] == "sign_off"]
    assert (signed_off.actor, signed_off.payload["sign_off"], signed_off.model_version) == (
        "alice", "technical", int(candidate))


def test_the_same_approver_cannot_give_both_sign_offs(waiting):
    project, candidate = waiting
    sign(candidate, "technical", "alice")
    with pytest.raises(BlockedError) as refused:
        sign(candidate, "ethical", "alice", run_id="manual__alice-ethical")
    assert refused.value.reasons == [
        f"alice already gave the technical sign-off for version {candidate}; the same person cannot give both "
        "the technical and the ethical sign-off"
    ]
    assert project.champion() != candidate
    (refusal,) = project.entries("refusal")
    assert refusal.actor == "alice" and refusal.payload["what"] == "approval"
    assert refusal.idempotency_key == "manual__alice-ethical:refusal:approval"
    assert [e.payload["sign_off"] for e in project.entries("approval") if e.payload["step"] == "sign_off"] == [
        "technical"
    ]


def test_two_distinct_approvers_promote_and_the_records_name_them(waiting):
    project, candidate = waiting
    before = project.champion()
    sign(candidate, "ethical", "bob")
    result = sign(candidate, "technical", "alice", run_id="manual__alice-technical")
    assert result["promoted"] and result["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert project.champion() == candidate
    tags = registry.get_version(project.client, project.name, candidate).tags
    assert tags["fairgate.awaiting_approval"] == "false"
    assert json.loads(tags["fairgate.approved_by"]) == {"technical": "alice", "ethical": "bob"}
    assert tags["fairgate.stable_fair"] == "true"
    move = registry.alias_history(project.client, project.name)[-1]
    assert (move["action"], move["from_version"], move["to_version"], move["actor"]) == (
        "approval", before, candidate, "alice")
    recorded_first, promotion = project.entries("promotion")  # the champion in place, then this approval
    assert recorded_first.payload["to_version"] == before
    assert promotion.payload["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert promotion.idempotency_key == f"manual__alice-technical:promotion:{candidate}"
    with project.log() as log:
        assert log.verify().ok

    # a retry of the run that promoted moves nothing and appends nothing
    count = len(project.entries())
    again = sign(candidate, "technical", "alice", run_id="manual__alice-technical")
    assert again["already_done"] and again["champion"] == candidate
    assert len(project.entries()) == count


def test_a_retried_sign_off_is_recorded_once(waiting):
    project, candidate = waiting
    for _ in range(2):
        sign(candidate, "technical", "alice", run_id="manual__retried")
    assert len([e for e in project.entries("approval") if e.payload["step"] == "sign_off"]) == 1


@pytest.mark.parametrize(
    ("actor", "run_type", "message"),
    [
        (None, "manual", "records None, which is not a person"),
        ("", "manual", "records '', which is not a person"),
        ("dag_test", "manual", "records 'dag_test', which is not a person"),
        ("alice", "scheduled", "must come from a manually triggered run"),
        ("alice", "operator_triggered", "must come from a manually triggered run"),
    ],
)
def test_a_run_without_an_authenticated_person_is_refused_and_recorded(waiting, actor, run_type, message):
    project, candidate = waiting
    with pytest.raises(BlockedError, match=message):
        sign(candidate, "technical", actor, run_type=run_type)
    (refusal,) = project.entries("refusal")
    assert refusal.actor == (actor or approvals.UNKNOWN_ACTOR)
    assert not [e for e in project.entries("approval") if e.payload["step"] == "sign_off"]


class AirflowRunType(str, Enum):  # noqa: UP042 - a StrEnum would print its value, Airflow's does not
    """Like the run type the task SDK hands a task: str() gives 'AirflowRunType.MANUAL', not 'manual'."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"


def test_the_run_type_is_read_by_its_value_when_airflow_passes_an_enum(waiting):
    project, candidate = waiting
    assert sign(candidate, "technical", "alice", run_type=AirflowRunType.MANUAL)["promoted"] is False
    with pytest.raises(BlockedError, match="this run is of type 'scheduled'"):
        sign(candidate, "ethical", "bob", run_type=AirflowRunType.SCHEDULED)
    assert approvals.identity_problem("alice", AirflowRunType.MANUAL) is None


def test_a_version_that_is_not_waiting_is_refused(project):
    first = project.register(stable=True)
    project.make_champion(first)
    passed_never_waited = project.register()
    with pytest.raises(BlockedError, match="is not awaiting approval"):
        sign(passed_never_waited, "technical", "alice")
    assert project.champion() == first and len(project.entries("refusal")) == 1


def test_a_version_gated_against_an_earlier_champion_is_refused(waiting):
    project, candidate = waiting
    newer = project.register(stable=True)
    project.make_champion(newer)  # e.g. a rollback or another approval since the candidate was gated
    with pytest.raises(BlockedError, match=f"the champion is now {newer}; its comparison is out of date"):
        sign(candidate, "technical", "alice")
    assert project.champion() == newer


@pytest.mark.parametrize(
    ("version", "sign_off", "message"),
    [
        ("2", "both", "sign_off must be one of: technical, ethical; found 'both'"),
        ("two", "technical", "model_version must be a positive integer, found 'two'"),
        (0, "technical", "model_version must be a positive integer, found 0"),
        (True, "technical", "model_version must be a positive integer, found True"),
        ("99", "technical", "has no version 99"),
    ],
)
def test_bad_input_is_one_clear_error_and_records_nothing(waiting, version, sign_off, message):
    project, _ = waiting
    before = len(project.entries())
    with pytest.raises(BadInputError, match=re.escape(message)):
        sign(version, sign_off, "alice")
    assert len(project.entries()) == before


# ---------------------------------------------------------------- no override of a failed gate


@pytest.mark.fairness
@pytest.mark.parametrize(
    ("technical", "ethical"), [("passed", "blocked"), ("blocked", "passed"), ("blocked", "blocked")]
)
def test_approving_a_version_that_failed_a_gate_is_refused_and_recorded(project, technical, ethical):
    first = project.register(stable=True)
    project.make_champion(first)
    approvals.freeze_deployments(project.paths, project.config, "review", "cli:carol", "test:freeze")
    # even with the waiting tags forged onto it
    failed = project.register("blocked", technical=technical, ethical=ethical, awaiting=True, gated_against=first)
    with pytest.raises(BlockedError) as refused:
        sign(failed, "technical", "alice", run_id="manual__alice")
    assert "cannot be approved: it did not pass every gate" in str(refused.value)
    assert "there is no override" in str(refused.value)
    with pytest.raises(BlockedError, match="did not pass every gate"):
        sign(failed, "ethical", "bob", run_id="manual__bob")
    assert project.champion() == first
    refusals = project.entries("refusal")
    assert [(e.actor, e.model_version, e.payload["what"]) for e in refusals] == [
        ("alice", int(failed), "approval"),
        ("bob", int(failed), "approval"),
    ]
    assert f"gate.decision=blocked, technical={technical}, ethical={ethical}" in refusals[0].payload["reason"]
    assert not [e for e in project.entries("approval") if e.payload.get("step") == "sign_off"]


@pytest.mark.fairness
def test_forged_sign_offs_in_the_log_do_not_promote_a_failed_version(project):
    """Two sign-offs appended to the log directly, bypassing the checks: the promotion still re-checks the gate."""
    first = project.register(stable=True)
    project.make_champion(first)
    failed = project.register("blocked", ethical="blocked", technical="passed", awaiting=True, gated_against=first)
    with project.log() as log:
        for actor, kind in (("alice", "technical"), ("bob", "ethical")):
            log.append("approval", actor, {"subject": "promotion", "step": "sign_off", "sign_off": kind},
                       model_name=project.name, model_version=failed, idempotency_key=f"forged:{kind}")
    with pytest.raises(BlockedError, match="did not pass every gate"):
        sign(failed, "technical", "alice")
    with pytest.raises(BlockedError, match="did not pass every gate"):
        champion.move_champion(project.client, project.name, "champion", failed, action="approval",
                               actor="alice", reason="forged", airflow_run_id="forged",
                               audit_entries=project.entries())
    assert project.champion() == first


OVERRIDE_LIKE_VARIABLES = {
    "FAIRGATE_OVERRIDE": "1",
    "FAIRGATE_FORCE": "true",
    "FAIRGATE_FORCE_PROMOTE": "1",
    "FAIRGATE_SKIP_GATE": "1",
    "FAIRGATE_APPROVE": "all",
    "FAIRGATE_GATE": "passed",
    "FAIRGATE_UNFREEZE": "1",
    "FAIRGATE_ADMIN": "1",
}


@pytest.mark.fairness
def test_no_environment_variable_makes_a_failed_version_approvable(project, monkeypatch):
    for key, value in OVERRIDE_LIKE_VARIABLES.items():
        monkeypatch.setenv(key, value)
    first = project.register(stable=True)
    project.make_champion(first)
    failed = project.register("blocked", technical="passed", ethical="blocked", awaiting=True, gated_against=first)
    for actor, kind in (("alice", "technical"), ("bob", "ethical")):
        with pytest.raises(BlockedError, match="did not pass every gate"):
            sign(failed, kind, actor)
    assert project.champion() == first
    assert len(project.entries("refusal")) == 2


@pytest.mark.fairness
def test_the_approval_path_reads_no_flag_or_environment_variable():
    """Nothing in the modules that decide and move the champion reads the environment."""
    for module in ("governance/approvals.py", "governance/registry.py", "flows/champion.py"):
        source = (REPO / "pipelines" / module).read_text(encoding="utf-8")
        assert "os.environ" not in source and "getenv" not in source, module


# ---------------------------------------------------------------- unfreezing: the same two-person rule


def unfreeze(sign_off: str, actor: str | None, run_id: str | None = None, run_type: str = "manual"):
    return champion.sign_unfreeze(run_id or f"manual__{uuid.uuid4().hex}", sign_off, actor, run_type)


def test_unfreezing_what_is_not_frozen_is_bad_input(project):
    with pytest.raises(BadInputError, match="deployments are not frozen: there is nothing to unfreeze"):
        unfreeze("technical", "alice")


def test_unfreezing_needs_two_distinct_people(project):
    approvals.freeze_deployments(project.paths, project.config, "incident", "cli:carol", "test:freeze")
    first = unfreeze("technical", "alice")
    assert not first["unfrozen"] and approvals.current_freeze(project.paths, project.config).frozen
    with pytest.raises(BlockedError, match="alice already gave the technical sign-off to lift the freeze"):
        unfreeze("ethical", "alice")
    assert approvals.current_freeze(project.paths, project.config).frozen
    second = unfreeze("ethical", "bob", run_id="manual__bob-unfreeze")
    assert second["unfrozen"] and second["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert not approvals.current_freeze(project.paths, project.config).frozen
    (lifted,) = project.entries("unfreeze")
    assert lifted.actor == "bob" and lifted.payload["freeze_seq"] == 1
    # a retry of the run that unfroze appends nothing
    count = len(project.entries())
    assert unfreeze("ethical", "bob", run_id="manual__bob-unfreeze")["already_done"]
    assert len(project.entries()) == count


def test_sign_offs_for_an_earlier_freeze_do_not_count(project):
    approvals.freeze_deployments(project.paths, project.config, "incident", "cli:carol", "test:freeze-1")
    unfreeze("technical", "alice")
    approvals.freeze_deployments(project.paths, project.config, "rollback", "dave", "test:freeze-2")
    assert not unfreeze("ethical", "bob")["unfrozen"]
    assert approvals.current_freeze(project.paths, project.config).frozen


def test_an_unfreeze_without_an_authenticated_person_is_refused(project):
    approvals.freeze_deployments(project.paths, project.config, "incident", "cli:carol", "test:freeze")
    with pytest.raises(BlockedError, match="not a person"):
        unfreeze("technical", None)
    (refusal,) = project.entries("refusal")
    assert refusal.payload["what"] == "unfreeze" and refusal.actor == approvals.UNKNOWN_ACTOR


# ---------------------------------------------------------------- the CLI


def test_cli_freeze_and_status_show_the_switch_and_the_waiting_version(waiting, capsys):
    from pipelines.flows.cli import main

    project, candidate = waiting
    sign(candidate, "technical", "alice")
    assert main(["freeze", "--reason", "second look at approvals for women"]) == 0
    assert "deployments FROZEN since" in capsys.readouterr().out
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"deployments: FROZEN since \S+ by cli:\S+ \(audit entry \d+\): second look", out), out
    assert "to unfreeze (unfreeze DAG): technical: missing; ethical: missing" in out
    assert (
        "awaiting approval: technical: alice; ethical: missing; still needs an ethical sign-off from someone "
        "other than alice" in out
    )


def test_cli_freeze_without_a_reason_is_one_line_and_exit_2(project, capsys):
    from pipelines.flows.cli import main

    assert main(["freeze", "--reason", " "]) == 2
    assert capsys.readouterr().err == "fairgate: freezing needs a reason: a non-empty sentence saying why\n"
    assert project.entries() == []


@pytest.mark.fairness
@pytest.mark.parametrize("command", [["approve", "2"], ["unfreeze"], ["run", "--approve"], ["run", "--override"]])
def test_the_cli_has_no_approval_unfreeze_or_override_route(project, command, capsys):
    from pipelines.flows.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2
    assert project.entries() == []


# ---------------------------------------------------------------- a policy looser than the champion's


def _policy(project: Project, **changes: float) -> dict:
    """The project's gate policy as recorded, with ``family.metric.side`` changes."""
    policy = project.config.gate.model_dump(mode="json")
    for dotted, value in changes.items():
        family, metric, side = dotted.split(".")
        policy[family][metric][side] = value
    return policy


def test_a_policy_looser_than_the_champions_is_named_threshold_by_threshold(project):
    from pipelines.governance.champion_record import ERR_POLICY_UNRECORDED, loosened_since_champion

    strict = _policy(project, **{"ethical.demographic_parity_ratio.min": 0.9})
    first = project.register(policy=strict)
    project.make_champion(first)
    found = loosened_since_champion(project.paths, project.config, project.client, first)
    assert found == ["gate.ethical.demographic_parity_ratio.min: 0.9 when champion version 1 passed, now 0.8"]
    # the other direction: the same or a stricter policy loosens nothing
    same = project.config.model_copy(update={"gate": project.config.gate.model_validate(strict)})
    assert loosened_since_champion(project.paths, same, project.client, first) == []
    assert loosened_since_champion(project.paths, project.config, project.client, None) == []
    unrecorded = project.register()
    assert loosened_since_champion(project.paths, project.config, project.client, unrecorded) == [
        ERR_POLICY_UNRECORDED.format(version=unrecorded)
    ]


def test_a_small_group_reported_not_gated_since_the_champion_passed_is_a_looser_policy(project):
    from pipelines.governance.champion_record import loosened_since_champion

    reason = "reviewed: 18 rows cannot carry an estimate"
    first = project.register(policy=_policy(project))  # recorded before small_groups existed: no policy
    project.make_champion(first)
    assert loosened_since_champion(project.paths, project.config, project.client, first) == []
    report_only = {"gender": {"report_only": ["other"], "reason": reason}}
    dataset = project.config.dataset.model_validate(
        {**project.config.dataset.model_dump(mode="json"), "small_groups": report_only}
    )
    looser = project.config.model_copy(update={"dataset": dataset})
    assert loosened_since_champion(project.paths, looser, project.client, first) == [
        "dataset.small_groups.gender.report_only: none when champion version 1 passed, now ['other']"
    ]
    # the champion passed under the same policy: nothing loosened
    second = project.register(policy=_policy(project), small_groups=report_only)
    assert loosened_since_champion(project.paths, looser, project.client, second) == []


def test_a_candidate_gated_under_a_looser_policy_waits_for_two_sign_offs(project, tmp_path):
    first = project.register(policy=_policy(project))
    project.make_champion(first)
    candidate = project.register()
    decision_file = tmp_path / "gate_decision.json"
    decision_file.write_text(json.dumps({"passed": True, "champion_version": first}))
    state = promote_state("scheduled__2026-03", "2026-03", candidate, decision_file)
    loosened = ["gate.ethical.demographic_parity_ratio.min: 0.8 when champion version 1 passed, now 0.7"]
    state["gated"]["policy_loosened"] = loosened
    assert not approvals.current_freeze(project.paths, project.config).frozen
    held = champion.promote(state)["promoted"]
    assert held["awaiting_approval"] and held["policy_loosened"] == loosened
    assert project.champion() == first
    (awaiting,) = [e for e in project.entries("approval") if e.payload["step"] == "awaiting"]
    assert awaiting.payload["policy_loosened"] == loosened
    record = json.loads((project.paths.run_dir("scheduled__2026-03") / "stages" / "08-promote.json").read_text())
    assert record["verdict"] == "waiting"
    assert record["reasons"][0] == "the gate policy is looser than the champion's: " + loosened[0]
    sign(candidate, "technical", "alice")
    with pytest.raises(BlockedError, match="the same person cannot give both"):
        sign(candidate, "ethical", "alice")
    assert project.champion() == first
    promoted = sign(candidate, "ethical", "bob")
    assert promoted["promoted"] and promoted["approved_by"] == {"technical": "alice", "ethical": "bob"}
    assert project.champion() == candidate
