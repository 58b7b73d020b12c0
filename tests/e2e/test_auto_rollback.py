"""The automatic rollback against a real project: two governed runs promoted versions 1 and 2.

The monitor's hand-over (``MonitoredValue``) is built here with chosen values,
so each route is taken on purpose; everything after it is the real code:
classification, the audit log, ``champion.rollback``, the freeze, the model
cards, and the notifier run by Airflow as a task callback.  The tests follow
one deployment's life in order: a technical-only critical breach moves
nothing; a confident ethical breach rolls back (once, however often the task
is retried); a second breach while that rollback stands moves nothing
further; after the two-person unfreeze, a breach with nowhere to go freezes
and moves nothing; with the alias moved outside fairgate, the rollback is
refused like every move.  With ``automatic_rollback: false`` the trigger
freezes and moves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import make_project
from tests.projects import MODEL, champion_version, client_for, fairgate

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
RUN = "scheduled__2026-06-01T00:00:00+00:00"


@pytest.fixture(scope="module")
def project(session_root: Path) -> Path:
    """Versions 1 (interval 2026-01) and 2 (2026-02), both promoted: champion 2, deployments not frozen."""
    root = make_project(session_root / "auto-rollback", **{"generator.rows_per_month": 600})
    for interval in ("2026-01", "2026-02"):
        result = fairgate(root, "run", "--interval", interval)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert champion_version(root) == "2"
    return root


@pytest.fixture
def home(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAIRGATE_HOME", str(project))
    return project


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    """The outcomes of act_on_alerts, kept for the notifier run by Airflow at the end."""
    return {}


def ratio(value: float, low: float | None, high: float | None, horizon: str = "decision_time"):
    from pipelines.core.monitored_values import MonitoredValue

    return MonitoredValue(horizon, "ethical", "demographic_parity_ratio", "gender", value, low, high, 0.85, 0.8, "min")


def auc(value: float, low: float, high: float):
    from pipelines.core.monitored_values import MonitoredValue

    return MonitoredValue("estimated", "technical", "roc_auc", "overall", value, low, high, 0.72, 0.7, "min")


def entries(project: Path, kind: str | None = None) -> list[dict]:
    """The audit log's entries as ``fairgate audit log --json`` lists them (read in this process: faster)."""
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths
    from pipelines.governance.records import open_audit_log

    paths = ProjectPaths(project)
    with open_audit_log(paths, load_config(paths.config_file)) as log:
        return [e.as_dict() for e in log.entries() if kind is None or e.kind == kind]


def frozen(project: Path) -> bool:
    from pipelines.core.config import load_config
    from pipelines.core.project import ProjectPaths
    from pipelines.governance.approvals import current_freeze

    paths = ProjectPaths(project)
    return current_freeze(paths, load_config(paths.config_file)).frozen


def test_a_critical_technical_breach_and_an_unconfident_ethical_one_alert_and_move_nothing(home, outcomes):
    from pipelines.flows.auto_rollback import monitor_alerts

    values = [auc(0.61, 0.58, 0.64), ratio(0.78, 0.71, 0.86)]  # technical: confident; ethical: straddles 0.8 (warns)
    before = len(entries(home))
    outcome = monitor_alerts(values, interval="2026-04", airflow_run_id="scheduled__2026-05-01T00:00:00+00:00")
    outcomes["technical"] = outcome
    assert outcome["verdict"] == "critical" and outcome["action"] == "alert"
    assert outcome["rollback"] is None and outcome["freeze"]["frozen"] is False
    assert outcome["retrain"] == {"requested": True, "interval": "2026-04", "reason": outcome["retrain"]["reason"]}
    assert "roc_auc of overall = 0.61" in outcome["retrain"]["reason"]
    assert champion_version(home) == "2" and not frozen(home)
    alert = entries(home, "alert")[-1]
    assert len(entries(home)) == before + 1
    assert alert["actor"] == "fairgate:monitor" and alert["model_version"] == 2
    assert alert["payload"]["decision"] == "alert" and alert["payload"]["trigger"] == []
    # the ethical ratio is past its critical limit on its point only (interval reaches 0.8): a warning, not critical
    assert [b["metric"] for b in alert["payload"]["critical"]] == ["roc_auc"]
    assert [b["confident"] for b in alert["payload"]["critical"]] == [True]


def test_a_confident_critical_ethical_breach_rolls_back_freezes_and_records_the_evidence(home, outcomes):
    from pipelines.flows.auto_rollback import monitor_alerts

    values = [ratio(0.62, 0.55, 0.69), ratio(0.83, 0.8, 0.86, "realised"), auc(0.8, 0.77, 0.83)]
    outcome = monitor_alerts(values, interval="2026-05", airflow_run_id=RUN)
    outcomes["rollback"] = outcome
    assert outcome["action"] == "rollback" and outcome["verdict"] == "critical"
    assert {h: v["verdict"] for h, v in outcome["horizons"].items()} == {
        "decision_time": "critical", "estimated": "ok", "realised": "warn"
    }
    assert (outcome["rollback"]["from_version"], outcome["rollback"]["to_version"]) == ("2", "1")
    assert champion_version(home) == "1" and frozen(home)

    alert = entries(home, "alert")[-1]
    assert alert["seq"] == outcome["alert_seq"] and alert["actor"] == "fairgate:monitor"
    payload = alert["payload"]
    assert payload["decision"] == "rollback" and payload["target_version"] == "1"
    assert payload["interval"] == "2026-05" and payload["champion_version"] == "2"
    (trigger,) = payload["trigger"]  # the evidence: the value with its interval and the limit, never rounded
    assert (trigger["value"], trigger["low"], trigger["high"], trigger["limit"]) == (0.62, 0.55, 0.69, 0.8)
    assert trigger["horizon"] == "decision_time" and trigger["confident"] is True
    rollback = entries(home, "rollback")[-1]
    assert rollback["actor"] == "fairgate:monitor" and rollback["seq"] > alert["seq"]
    assert "automatic, on a confident critical ethical breach in interval 2026-05" in rollback["payload"]["reason"]
    assert "demographic_parity_ratio of gender = 0.62 (interval [0.55, 0.69])" in rollback["payload"]["reason"]
    freeze = entries(home, "freeze")[-1]
    assert freeze["actor"] == "fairgate:monitor" and freeze["seq"] > rollback["seq"]

    # the mirror, as after a manual rollback: the version tag and both model cards
    client = client_for(home)
    last = json.loads(client.get_model_version(MODEL, "1").tags["fairgate.last_rollback"])
    assert (last["actor"], last["from_version"], last["to_version"]) == ("fairgate:monitor", "2", "1")
    for version in ("1", "2"):
        card = model_card(home, version)
        assert "fairgate:monitor" in card and "automatic, on a confident critical ethical breach" in card, version
    assert "alert" in model_card(home, "2")  # the trigger is in the history of the version rolled back from
    verify = fairgate(home, "audit", "verify")
    assert verify.returncode == 0 and "chain intact" in verify.stdout, verify.stdout + verify.stderr


def test_a_retried_monitor_task_appends_nothing_and_moves_nothing(home):
    from pipelines.flows.auto_rollback import monitor_alerts

    before = entries(home)
    values = [ratio(0.62, 0.55, 0.69), ratio(0.83, 0.8, 0.86, "realised"), auc(0.8, 0.77, 0.83)]
    again = monitor_alerts(values, interval="2026-05", airflow_run_id=RUN)
    assert again["action"] == "rollback" and again["rollback"]["already_done"] is True
    assert entries(home) == before
    assert champion_version(home) == "1"


def test_a_breach_while_the_rollback_stands_moves_nothing_further(home):
    from pipelines.flows.auto_rollback import monitor_alerts

    outcome = monitor_alerts([ratio(0.6, 0.52, 0.68)], interval="2026-06",
                             airflow_run_id="scheduled__2026-07-01T00:00:00+00:00")
    assert outcome["action"] == "rollback_standing" and outcome["rollback"] is None
    assert champion_version(home) == "1" and frozen(home)
    assert "still standing (frozen): nothing moves further" in entries(home, "alert")[-1]["payload"]["reason"]
    assert [e["kind"] for e in entries(home)[-1:]] == ["alert"]  # no new rollback, no new freeze


def test_after_the_two_person_unfreeze_a_breach_with_nowhere_to_go_freezes_and_moves_nothing(home):
    from pipelines.core.errors import BlockedError
    from pipelines.flows.auto_rollback import monitor_alerts
    from pipelines.flows.champion import sign_unfreeze

    with pytest.raises(BlockedError, match="an approval needs the authenticated Airflow user"):
        sign_unfreeze("scheduled__unfreeze", "technical", None, "scheduled")  # no automatic actor lifts it
    assert sign_unfreeze("manual__alice", "technical", "alice", "manual")["unfrozen"] is False
    assert sign_unfreeze("manual__bob", "ethical", "bob", "manual")["unfrozen"] is True
    assert not frozen(home)

    outcome = monitor_alerts([ratio(0.6, 0.52, 0.68)], interval="2026-07",
                             airflow_run_id="scheduled__2026-08-01T00:00:00+00:00")
    assert outcome["action"] == "freeze" and outcome["rollback"] is None
    assert champion_version(home) == "1" and frozen(home)
    alert = entries(home, "alert")[-1]
    assert alert["payload"]["target_version"] is None
    assert "no rollback target" in alert["payload"]["reason"] and "nothing moves" in alert["payload"]["reason"]
    freeze = entries(home, "freeze")[-1]
    assert freeze["actor"] == "fairgate:monitor" and freeze["payload"]["cause"] == "alert"


def test_with_the_automatic_rollback_switched_off_a_trigger_freezes_and_a_person_decides(home):
    import yaml

    from pipelines.flows.auto_rollback import monitor_alerts

    config_file = home / "fairgate.yaml"
    original = config_file.read_text(encoding="utf-8")
    raw = yaml.safe_load(original)
    raw["monitoring"]["alerts"]["automatic_rollback"] = False
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    try:
        outcome = monitor_alerts([ratio(0.6, 0.52, 0.68)], interval="2026-08",
                                 airflow_run_id="scheduled__2026-09-01T00:00:00+00:00")
    finally:
        config_file.write_text(original, encoding="utf-8")
    assert outcome["action"] == "freeze" and outcome["rollback"] is None and frozen(home)
    assert "automatic rollback switched off" in entries(home, "alert")[-1]["payload"]["reason"]
    assert champion_version(home) == "1"


def test_the_notifier_run_by_airflow_writes_the_real_outcomes(project, outcomes, tmp_path):
    """The tiny DAG's tasks return the outcomes above; AlertNotifier is their callback, as in the monitor DAG."""
    assert set(outcomes) == {"technical", "rollback"}, "run with the tests above: they make the outcomes"
    out = tmp_path / "out"
    out.mkdir()
    for name, outcome in outcomes.items():
        (out / f"{name}.json").write_text(json.dumps(outcome), encoding="utf-8")
    (out / "ok.json").write_text(json.dumps({**outcomes["technical"], "verdict": "ok"}), encoding="utf-8")
    dag_folder = tmp_path / "dags"
    dag_folder.mkdir()
    (dag_folder / "alert_notifier_check.py").write_text(textwrap.dedent(TINY_DAG.format(out=str(out))))
    home = tmp_path / "airflow-home"
    home.mkdir()
    shutil.copy(project / ".airflow" / "airflow.db", home / "airflow.db")  # migrated by the project's runs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dag_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": os.pathsep.join([str(REPO / "dags"), env.get("PYTHONPATH", "")]),
    })
    ran = subprocess.run([sys.executable, "-m", "airflow", "dags", "test", "alert_notifier_check"], env=env,
                         capture_output=True, text=True, timeout=600)
    output = ran.stdout[-4000:] + ran.stderr[-4000:]
    written = out / "notifications.jsonl"
    assert written.is_file(), output
    lines = {line["task_id"]: line for line in map(json.loads, written.read_text(encoding="utf-8").splitlines())}
    assert sorted(lines) == ["refused", "rolled_back", "technical_alert"], output  # ok notified nobody
    rolled = lines["rolled_back"]
    assert rolled["severity"] == "critical" and rolled["action"] == "rollback"
    assert (rolled["rollback"]["from_version"], rolled["rollback"]["to_version"]) == ("2", "1")
    assert rolled["evidence"][0].startswith("critical: decision_time ethical demographic_parity_ratio of gender")
    assert lines["technical_alert"]["retrain"]["requested"] is True
    assert lines["refused"]["severity"] == "error" and "integrity alarm" in lines["refused"]["summary"]
    forwarded = (out / "forwarded.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(forwarded) == sorted(f"{line['severity']}: {line['summary']}" for line in lines.values())
    with sqlite3.connect(home / "airflow.db") as db:  # the retrain path: one triggered run, with the interval
        triggered = db.execute("SELECT run_id, conf FROM dag_run WHERE dag_id = 'alert_retrain_target'").fetchall()
    assert [(run_id.split("__")[0], json.loads(conf)) for run_id, conf in triggered] == [
        ("retrain_on_alert", {"interval": "2026-04"})
    ], output


def test_with_the_alias_moved_outside_fairgate_the_automatic_rollback_is_refused_and_freezes(home):
    from pipelines.flows.auto_rollback import monitor_alerts
    from pipelines.governance.champion_record import IntegrityError

    client_for(home).set_registered_model_alias(MODEL, "champion", "2")  # the MLflow UI's alias pencil
    with pytest.raises(IntegrityError, match="integrity alarm"):
        monitor_alerts([ratio(0.6, 0.52, 0.68)], interval="2026-09",
                       airflow_run_id="scheduled__2026-10-01T00:00:00+00:00")
    assert champion_version(home) == "2"  # left where the outside move put it: nothing moved it further
    alert = entries(home, "alert")[-1]
    assert alert["payload"]["decision"] == "refused_integrity_alarm"
    assert frozen(home) and entries(home, "freeze")[-1]["actor"] == "fairgate:monitor"
    assert [e["kind"] for e in entries(home, "rollback")][-1:] == ["rollback"]  # no new rollback entry
    assert len(entries(home, "rollback")) == 1


def model_card(project: Path, version: str) -> str:
    client = client_for(project)
    run_id = client.get_model_version(MODEL, version).run_id
    folder = Path(client.download_artifacts(run_id, "model_card", str(project / "var" / f"card-{version}")))
    return (folder / "model_card.md").read_text(encoding="utf-8")


TINY_DAG = '''
import json
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk.bases.notifier import BaseNotifier

from alert_notifier import AlertNotifier

OUT = Path({out!r})


class RenderedText(BaseNotifier):
    """A provider-like notifier: Airflow renders its templated text, then it is written down."""

    template_fields = ("text",)

    def __init__(self, text):
        super().__init__()
        self.text = text

    def notify(self, context):
        with (OUT / "forwarded.txt").open("a", encoding="utf-8") as handle:
            handle.write(self.text + "\\n")


def notifier():
    forward = RenderedText("{{{{ fairgate_alert.severity }}}}: {{{{ fairgate_alert.summary }}}}")
    return AlertNotifier(path=str(OUT / "notifications.jsonl"), forward_to=[forward])


def returns(task_id, name):
    @task(task_id=task_id, on_success_callback=notifier(), on_failure_callback=notifier())
    def outcome():
        return json.loads((OUT / name).read_text(encoding="utf-8"))

    return outcome()


@dag(dag_id="alert_notifier_check", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
     catchup=False)
def alert_notifier_check():
    returns("rolled_back", "rollback.json")
    technical = returns("technical_alert", "technical.json")
    returns("all_clear", "ok.json")

    # the retrain path as the monitor DAG wires it (docs/alerts.md), aimed at a stand-in for retrain
    @task.short_circuit
    def retrain_requested(outcome):
        return bool(outcome["retrain"]["requested"])

    retrain_requested(technical) >> TriggerDagRunOperator(
        task_id="open_retrain",
        trigger_dag_id="alert_retrain_target",
        trigger_run_id="retrain_on_alert__{{{{ run_id }}}}",
        conf={{"interval": "{{{{ ti.xcom_pull(task_ids='technical_alert')['retrain']['interval'] }}}}"}},
        skip_when_already_exists=True,
    )

    @task(on_success_callback=notifier(), on_failure_callback=notifier(), retries=0)
    def refused():
        raise RuntimeError("blocked at integrity: integrity alarm (audit entry 12)")

    refused()


alert_notifier_check()


@dag(dag_id="alert_retrain_target", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
     catchup=False)
def alert_retrain_target():
    @task
    def interval_received():
        return None

    interval_received()


alert_retrain_target()
'''
