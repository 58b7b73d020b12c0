"""DAG integrity: every DAG file imports, follows the house rules, and has the expected graph."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_IDS = ["retrain", "score", "monitor", "rollback", "approve", "unfreeze", "freeze", "repair"]
HEAVY_MODULES = {"pandas", "sklearn", "mlflow", "dvc", "great_expectations", "fairlearn", "numpy"}


@pytest.fixture(scope="module")
def dag_bag():
    # the bundle DagBag puts the DAG folder on sys.path, as Airflow's DAG processor and task runner do
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS), bundle_path=DAGS)


def test_every_dag_file_imports_without_error(dag_bag):
    assert dag_bag.import_errors == {}, dag_bag.import_errors
    assert set(dag_bag.dag_ids) == set(DAG_IDS)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_house_rules(dag_bag, dag_id):
    dag = dag_bag.dags[dag_id]
    assert dag.doc_md and len(dag.doc_md) > 200
    assert dag.description
    assert "fairgate" in dag.tags
    assert dag.catchup is False
    assert dag.start_date.tzinfo is not None
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "fairgate", task.task_id
        assert task.retries >= 2, task.task_id


def test_retrain_graph_is_the_governed_chain(dag_bag):
    dag = dag_bag.dags["retrain"]
    chain = ["run_reference", "ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote"]
    assert {t.task_id for t in dag.tasks} == set(chain)
    # a chain and nothing else: each task hands its run state to the next, no edge skips a stage
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}, (upstream, downstream)
        assert dag.get_task(downstream).upstream_task_ids == {upstream}, (upstream, downstream)
    assert dag.get_task("run_reference").upstream_task_ids == set()
    assert dag.get_task("promote").downstream_task_ids == set()
    assert dag.schedule is not None or dag.timetable is not None


def test_score_is_monthly_with_one_task_and_a_typed_interval(dag_bag):
    from airflow.sdk.exceptions import ParamValidationError

    dag = dag_bag.dags["score"]
    assert type(dag.timetable).__name__ != "NullTimetable"  # scheduled, like retrain
    assert dag.schedule == dag_bag.dags["retrain"].schedule == "@monthly"
    assert [t.task_id for t in dag.tasks] == ["score_with_champion"]
    interval = dag.params.get_param("interval")
    assert interval.schema.get("title") and interval.description
    assert interval.resolve("2025-01") == "2025-01" and interval.resolve(None) is None
    with pytest.raises(ParamValidationError):
        interval.resolve("2025-13")


def test_rollback_is_manual_only_with_typed_params(dag_bag):
    dag = dag_bag.dags["rollback"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: manual only
    assert [t.task_id for t in dag.tasks] == ["move_champion_back"]
    reason = dag.params.get_param("reason")
    assert reason.schema["type"] == "string" and reason.schema["minLength"] == 1
    assert reason.schema.get("title") and reason.description
    target = dag.params.get_param("target_version")
    assert target.value is None and "integer" in target.schema["type"]
    assert target.schema.get("title") and target.description


def test_rollback_reason_is_required(dag_bag):
    from airflow.sdk.exceptions import ParamValidationError

    reason = dag_bag.dags["rollback"].params.get_param("reason")
    with pytest.raises(ParamValidationError):
        reason.resolve()
    with pytest.raises(ParamValidationError):
        reason.resolve("")
    assert reason.resolve("champion drifted") == "champion drifted"


@pytest.mark.parametrize(
    ("dag_id", "task_id", "params"),
    [
        ("approve", "sign_off_and_promote", {"model_version", "sign_off", "comment"}),
        ("unfreeze", "sign_off_unfreeze", {"sign_off", "comment"}),
        ("repair", "sign_off_repair", {"sign_off", "comment"}),
        ("freeze", "freeze_promotion", {"reason"}),
    ],
)
def test_approval_dags_are_manual_only_with_explained_params(dag_bag, dag_id, task_id, params):
    dag = dag_bag.dags[dag_id]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert [t.task_id for t in dag.tasks] == [task_id]
    # nothing to name the approver, force, override or skip with: the identity comes from Airflow
    assert set(dag.params.keys()) == params
    for name in params:
        param = dag.params.get_param(name)
        assert param.schema.get("title") and param.description, name


def test_approve_params_are_typed(dag_bag):
    from airflow.sdk.exceptions import ParamValidationError

    params = dag_bag.dags["approve"].params
    assert params.get_param("model_version").resolve(3) == 3
    assert params.get_param("sign_off").resolve("ethical") == "ethical"
    assert params.get_param("comment").resolve(None) is None
    for name, bad in (("model_version", 0), ("model_version", None), ("sign_off", "both"), ("sign_off", None)):
        with pytest.raises(ParamValidationError):
            params.get_param(name).resolve(bad)


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_only_wire(path):
    """No heavy import at the top of a DAG file: they are parsed every few seconds."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {(node.module or "").split(".")[0]}
        else:
            continue
        assert not names & HEAVY_MODULES, f"{path.name} imports {names & HEAVY_MODULES} at parse time"
        assert "pipelines" not in names, f"{path.name} imports pipelines at parse time; import inside tasks"


def test_pipelines_never_imports_airflow():
    package = Path(__file__).resolve().parents[2] / "pipelines"
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "airflow" for a in node.names), path.name
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "airflow", path.name


def test_dag_files_share_one_definition_of_the_house_rules():
    """Every DAG is declared through governed_dag; the shared modules are not parsed as DAG files."""
    helpers = {"governed_dag.py", "alert_notifier.py"}  # imported by DAG files, never parsed as DAGs
    for path in sorted(DAGS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name in helpers:
            continue
        assert ("@governed_dag(" in source or "= sign_off_dag(" in source) and "@dag(" not in source, path.name
        assert "AirflowFailException" not in source, f"{path.name}: use governed_call"
    assert helpers <= set((DAGS / ".airflowignore").read_text(encoding="utf-8").split())
