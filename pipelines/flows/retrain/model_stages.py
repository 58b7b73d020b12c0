"""The model stages of ``retrain``: train, evaluate, gate, register.

Each takes the run state of the stage before it and returns it with its own
result added (see :mod:`pipelines.flows.retrain.results`).  The gate does not
raise on a blocked candidate: it is registered too, with tags saying why, so
it can be inspected; the promote stage (:mod:`pipelines.flows.champion`)
refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from pipelines.core.config import TrainingSettings
from pipelines.core.errors import BlockedError
from pipelines.core.files import write_json
from pipelines.core.small_groups import merge_small_groups, policy_summary
from pipelines.data.leakage import candidate_feature_columns
from pipelines.flows.champion import refresh_model_cards
from pipelines.flows.retrain.context import (
    StageContext,
    block_run,
    git_state,
    log_artifact_files,
    stage_input,
    stage_record,
)
from pipelines.flows.retrain.logged_model import log_sklearn_model
from pipelines.flows.retrain.mlflow_run import keep_running
from pipelines.flows.retrain.results import Evaluated, Gated, Registered, RunState, Trained
from pipelines.flows.retrain.resume import handed_on
from pipelines.governance import champion_record, registry, tags
from pipelines.governance.decision_record import policy_of_result
from pipelines.governance.gate import GateDecision, decide
from pipelines.governance.mitigation_search import SearchResult, train_with_search
from pipelines.governance.model_integrity import manifest_digest, model_checksums
from pipelines.governance.records import record_event
from pipelines.model.evaluate import evaluate_against, flatten_metrics, per_group_table
from pipelines.model.train import TrainedModel
from pipelines.model.weights_reference import MAX_ULP, check_received_weights
from pipelines.reports.mitigation_report import mitigation_cost_markdown, mitigation_cost_table
from pipelines.reports.mitigation_search_report import blocked_reason, gate_report_section, write_search_files
from pipelines.reports.plots import plot_per_group

MLFLOW_BATCH_METRICS = 1000  # MLflow's limit of metrics per log_batch call
ERR_CHAMPION_COLUMNS = "champion version {version} cannot be scored on this holdout: missing column(s) {columns}"


@handed_on("trained")
def train(state: RunState) -> RunState:
    """Fit the candidate with exact class weights, verify them, log the model."""
    ctx = stage_input(state, "train", "ingested", "split")
    ingested, split_result = state["ingested"], state["split"]
    with stage_record(ctx, "train") as record:
        dataset, training = ctx.config.dataset, ctx.config.training
        train_frame = pd.read_parquet(split_result["train_file"]).reset_index(drop=True)
        holdout_labels = pd.read_parquet(split_result["holdout_file"], columns=[dataset.target])[dataset.target]
        classes = sorted(
            set(train_frame[dataset.target].dropna().tolist()) | set(holdout_labels.dropna().tolist()),
            key=lambda v: (str(type(v)), v),
        )
        features = candidate_feature_columns(train_frame, dataset)
        # with a search, its options are fitted and judged on a validation split of this training window only
        trained, training, searched = train_with_search(train_frame, features, ctx.config, classes)
        check = _verify_weights(ctx, trained, train_frame, training)
        record["details"] = {"fingerprint": trained.fingerprint["reference_check"]}
        if not check.passed:
            registry.connect(ctx.paths)
            with mlflow.start_run(run_id=ingested["mlflow_run_id"]):
                mlflow.log_dict(trained.fingerprint, "training/fingerprint.json")
            block_run(ctx, ingested["mlflow_run_id"], "train", check.mismatches)
        model_uri, unmitigated_uri = _log_training(ctx, ingested["mlflow_run_id"], trained, train_frame, features)
        search_file = None if searched is None else _log_search(ctx, ingested["mlflow_run_id"], searched)
        keep_running(registry.connect(ctx.paths), ingested["mlflow_run_id"])  # the fluent run block ended it
        record["details"] = {
            "estimator": training.estimator,
            "features": len(features),
            "class_weights": trained.fingerprint["class_weights_repr"],
            "fingerprint": trained.fingerprint["reference_check"],
        }
        if searched is not None:
            record["details"]["mitigation_search"] = trained.fingerprint["mitigation"]["search"]
        result: Trained = {
            "model_uri": model_uri,
            "unmitigated_model_uri": unmitigated_uri,
            "mitigation": trained.fingerprint["mitigation"],
            "features": features,
            "class_weights": trained.fingerprint["class_weights_repr"],
            "class_weights_hex": trained.fingerprint["class_weights_hex"],
            "beta_factor": repr(float(training.beta_factor)),
            "reweigh_sensitive": bool(training.reweigh_sensitive),
            "sample_weight_sha256": trained.sample_weight_sha256,
            "weights_check": (
                f"passed: {check.rows} rows within {check.max_ulp} ulp (allowed {MAX_ULP}) of the 50-digit reference"
            ),
            "mitigation_search_file": search_file,
        }
        return {**state, "trained": result}


def _log_search(ctx: StageContext, mlflow_run_id: str, searched: SearchResult) -> str:
    """Write the search (JSON, table, Markdown, trade-off plot) to the run folder and the MLflow run."""
    folder = ctx.run_dir / "train"
    search = searched.to_dict()
    search_file = write_json(folder / "mitigation_search.json", search)
    gate_ethical = {name: bound.model_dump() for name, bound in ctx.config.gate.ethical.items()}
    files = write_search_files(search, gate_ethical, folder)
    log_artifact_files(ctx, mlflow_run_id, [search_file, *files], "training/mitigation_search")
    return str(search_file)


def _verify_weights(
    ctx: StageContext, trained: TrainedModel, train_frame: pd.DataFrame, training: TrainingSettings
) -> Any:
    """Verify, do not trust: the weights the estimator received against a 50-digit reference.

    The check's outcome goes into the training fingerprint, which is written
    to the run folder whatever it says.  ``training`` is the one the model was
    fitted with (the search's kept option when there is a search).
    """
    dataset = ctx.config.dataset
    sensitive = merge_small_groups(train_frame[dataset.sensitive], dataset.small_groups)  # as training formed them
    groups = list(sensitive.itertuples(index=False, name=None)) if training.reweigh_sensitive else None
    check = check_received_weights(
        trained.received_sample_weight, train_frame[dataset.target], training.beta_factor, groups
    )
    trained.fingerprint["reference_check"] = {
        "verdict": "passed" if check.passed else "blocked",
        "rows": check.rows,
        "max_ulp_found": check.max_ulp,
        "max_ulp_allowed": MAX_ULP,
        "mismatches": check.mismatches,
    }
    write_json(ctx.run_dir / "train" / "fingerprint.json", trained.fingerprint)
    return check


def _log_training(
    ctx: StageContext, mlflow_run_id: str, trained: TrainedModel, train_frame: pd.DataFrame, features: list[str]
) -> tuple[str, str | None]:
    """Log params, fingerprint, weight tags and the model (and its unmitigated twin); return their URIs."""
    training = ctx.config.training
    registry.connect(ctx.paths)
    with mlflow.start_run(run_id=mlflow_run_id):
        mlflow.log_params(
            {
                "estimator": training.estimator,
                "beta_factor": repr(float(training.beta_factor)),
                "features": ",".join(features),
                "train_rows": len(train_frame),
                **{f"estimator.{k}": v for k, v in training.params.items()},
            }
        )
        mlflow.log_dict(trained.fingerprint, "training/fingerprint.json")
        mlflow.set_tags(
            {
                tags.BETA_FACTOR: repr(float(training.beta_factor)),
                tags.CLASS_WEIGHTS: json.dumps(trained.fingerprint["class_weights_repr"], sort_keys=True),
                tags.SAMPLE_WEIGHT_SHA256: trained.sample_weight_sha256,
                tags.MITIGATION: json.dumps(trained.fingerprint["mitigation"], sort_keys=True),
            }
        )
        model_info = log_sklearn_model(trained.model, train_frame[features])
        unmitigated_uri = None
        if trained.unmitigated is not None:
            # not registered: the evaluate stage scores it to report what the mitigation cost
            unmitigated_uri = log_sklearn_model(
                trained.unmitigated, train_frame[features], name="unmitigated_model"
            ).model_uri
    return str(model_info.model_uri), unmitigated_uri


@handed_on("evaluated")
def evaluate(state: RunState) -> RunState:
    """Score the candidate, the current champion and the unmitigated twin once each on the same holdout.

    One set of paired resamples serves both comparisons (candidate against the champion,
    and against the twin for the mitigation's cost).  Writes ``evaluation/evaluation.json``
    (``candidate``, ``champion``, ``champion_version``, ``comparison``, ``bootstrap``), the
    per-group table of both models and the per-group chart, and logs every number to the
    run, grouped by family (see :func:`pipelines.model.evaluate.flatten_metrics`).
    """
    ctx = stage_input(state, "evaluate", "ingested", "split", "trained")
    ingested, trained = state["ingested"], state["trained"]
    with stage_record(ctx, "evaluate") as record:
        dataset = ctx.config.dataset
        holdout = pd.read_parquet(state["split"]["holdout_file"])
        client = registry.connect(ctx.paths)
        candidate_model = mlflow.sklearn.load_model(trained["model_uri"])
        champion_version, champion_model, champion_features = _champion_on_holdout(ctx, client, holdout)
        features = holdout[trained["features"]]
        references: dict[str, tuple[Any, pd.DataFrame] | None] = {
            "champion": None if champion_model is None else (champion_model, champion_features)
        }
        if trained.get("unmitigated_model_uri"):
            # what the mitigation cost: the same pipeline without it, on the same resamples as the champion
            references["unmitigated"] = (mlflow.sklearn.load_model(trained["unmitigated_model_uri"]), features)
        pairs = evaluate_against(
            candidate_model,
            features,
            references,
            holdout[dataset.target],
            holdout[dataset.sensitive],
            dataset,
            ctx.config.decision,
            ctx.config.evaluation,
        )
        pair = pairs["champion"]
        mitigation_cost, cost_files = _mitigation_cost(ctx, trained, pairs.get("unmitigated"))
        candidate, champion_result = pair["candidate"], pair["champion"]
        evaluation = {
            "candidate": candidate,
            "champion": champion_result,
            "champion_version": champion_version,
            "comparison": pair["comparison"],
            "bootstrap": pair["bootstrap"],
        }
        eval_file = write_json(ctx.run_dir / "evaluation" / "evaluation.json", evaluation)
        table_file = _write_per_group_table(ctx, candidate, champion_result, champion_version)
        plot_file = plot_per_group(candidate, ctx.run_dir / "evaluation" / "per_group.png", champion=champion_result)
        metrics = _log_metrics(client, ingested["mlflow_run_id"], candidate, evaluation, mitigation_cost)
        log_artifact_files(
            ctx, ingested["mlflow_run_id"], [eval_file, table_file, plot_file, *cost_files], "evaluation"
        )
        record["details"] = {
            "holdout_rows": int(len(holdout)),
            "champion_version": champion_version,
            "key_metrics": _key_metrics(candidate),
            "champion_key_metrics": _key_metrics(champion_result) if champion_result else None,
            "key_differences": _key_differences(candidate, pair["comparison"]),
            "bootstrap": pair["bootstrap"],
            "metrics_logged": len(metrics),
            "mitigation_cost": None if mitigation_cost is None else {
                row["metric"]: row["difference"] for row in mitigation_cost["rows"] if row["key"]
            },
        }
        result: Evaluated = {"evaluation_file": str(eval_file), "champion_version": champion_version}
        return {**state, "evaluated": result}


def _champion_on_holdout(
    ctx: StageContext, client: Any, holdout: pd.DataFrame
) -> tuple[str | None, Any, pd.DataFrame | None]:
    """The current champion's version, its model and its features on the holdout (all None without one)."""
    current = registry.champion(client, ctx.config.registry.model_name, ctx.config.registry.champion_alias)
    if current is None:
        return None, None, None
    champion_version = str(current.version)
    champion_model = mlflow.sklearn.load_model(f"models:/{ctx.config.registry.model_name}/{champion_version}")
    needed = list(getattr(champion_model, "feature_names_in_", holdout.columns))
    missing = [c for c in needed if c not in holdout.columns]
    if missing:
        raise BlockedError(
            "evaluate", [ERR_CHAMPION_COLUMNS.format(version=champion_version, columns=", ".join(missing))]
        )
    return champion_version, champion_model, holdout[needed]


def _mitigation_cost(
    ctx: StageContext, trained: Trained, unmitigated: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[Path]]:
    """What the mitigation cost: the candidate paired with the same pipeline without its mitigation.

    ``unmitigated`` is that pair (:func:`pipelines.model.evaluate.evaluate_against`, the
    unmitigated model in the champion's place); None and no files when the candidate was
    trained without a mitigation.
    """
    if unmitigated is None:
        return None, []
    mitigation_cost = mitigation_cost_table(unmitigated, trained.get("mitigation", {}))
    cost_files = [
        write_json(ctx.run_dir / "evaluation" / "mitigation_cost.json", mitigation_cost),
        ctx.run_dir / "evaluation" / "mitigation_cost.md",
    ]
    cost_files[1].write_text(mitigation_cost_markdown(mitigation_cost), encoding="utf-8")
    return mitigation_cost, cost_files


def _write_per_group_table(
    ctx: StageContext, candidate: dict[str, Any], champion_result: dict[str, Any] | None, champion_version: str | None
) -> Path:
    """Write the per-group metrics of the candidate (and the champion) as one CSV table."""
    table_file = ctx.run_dir / "evaluation" / "per_group.csv"
    tables = [per_group_table(candidate).assign(model="candidate")]
    if champion_result is not None:
        tables.append(per_group_table(champion_result).assign(model=f"champion v{champion_version}"))
    table = pd.concat(tables, ignore_index=True)
    table[["model", *[c for c in table.columns if c != "model"]]].to_csv(table_file, index=False)
    return table_file


def _log_metrics(
    client: Any,
    mlflow_run_id: str,
    candidate: dict[str, Any],
    evaluation: dict[str, Any],
    mitigation_cost: dict[str, Any] | None,
) -> list[tuple[str, Any]]:
    """Log every number of the evaluation (and the mitigation's cost) to the run, in batches; return them."""
    metrics = list(flatten_metrics(candidate, evaluation).items())
    if mitigation_cost is not None:
        metrics += [
            (f"mitigation.{kind}.{row['metric']}", row[value])
            for row in mitigation_cost["rows"]
            for kind, value in (("unmitigated", "unmitigated"), ("cost", "difference"))
            if row[value] is not None
        ]
    for start in range(0, len(metrics), MLFLOW_BATCH_METRICS):
        client.log_batch(
            mlflow_run_id,
            metrics=[
                mlflow.entities.Metric(key=k, value=v, timestamp=0, step=0)
                for k, v in metrics[start : start + MLFLOW_BATCH_METRICS]
            ],
        )
    return metrics


_KEY_METRICS = {
    "technical": ("roc_auc", "balanced_accuracy", "accuracy", "latency_ms_p95"),
    "business": ("approval_rate", "expected_cost", "cost_saving_vs_best_constant"),
}


_KEY_ETHICAL = ("demographic_parity_ratio", "demographic_parity_difference", "equalized_odds_difference")


def _key_paths(result: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The summary's metrics of a result: dotted name and path in the result."""
    chosen: list[tuple[str, tuple[str, ...]]] = []
    for family, names in _KEY_METRICS.items():
        for name in names:
            if name in result.get(family, {}):
                chosen.append((f"{family}.{name}", (family, name)))
    for attribute, values in result.get("ethical", {}).items():
        for name in _KEY_ETHICAL:
            if name in values:
                chosen.append((f"ethical.{attribute}.{name}", ("ethical", attribute, name)))
    return chosen


def _key_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The point estimates the run summary prints (None when undefined)."""
    chosen: dict[str, float] = {}
    for name, path in _key_paths(result):
        node: Any = result
        for part in path:
            node = node[part]
        chosen[name] = node
    return chosen


def _key_differences(result: dict[str, Any], comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """Candidate minus champion with its paired interval, for the summary's metrics (None without a champion)."""
    if comparison is None:
        return None
    chosen: dict[str, Any] = {}
    for name, path in _key_paths(result):
        node: Any = comparison
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            chosen[name] = {"difference": node["difference"], "low": node["low"], "high": node["high"]}
    return chosen




def _loosened_section(loosened: list[str]) -> str:
    """The gate report's part on a policy looser than the champion's (empty when there is none)."""
    if not loosened:
        return ""
    lines = "\n".join(f"- {item}" for item in loosened)
    return (
        "\n\n## Policy loosened since the champion passed\n\n"
        f"{lines}\n\nThis candidate is not promoted automatically: it waits for a technical and an ethical "
        "sign-off from two different people (the approve DAG). Who approved it is recorded in the audit log's "
        "promotion entry and in the model card.\n"
    )


@handed_on("gated")
def gate(state: RunState) -> RunState:
    """Decide: technical gate and ethical gate, absolute and against the champion, with paired intervals."""
    ctx = stage_input(state, "gate", "ingested", "evaluated")
    ingested, evaluated = state["ingested"], state["evaluated"]
    with stage_record(ctx, "gate") as record:
        evaluation = json.loads(Path(evaluated["evaluation_file"]).read_text(encoding="utf-8"))
        decision = decide(
            evaluation["candidate"],
            evaluation["champion"],
            ctx.config.gate,
            evaluation["champion_version"],
            comparison=evaluation["comparison"],
        )
        client = registry.connect(ctx.paths)
        loosened = champion_record.loosened_since_champion(
            ctx.paths, ctx.config, client, evaluation["champion_version"]
        )
        decision_file = write_json(ctx.run_dir / "gate" / "gate_decision.json", decision.to_dict())
        report_file = ctx.run_dir / "gate" / "gate_report.md"
        report, reasons = gate_report(decision, _search_of(state), loosened)
        report_file.write_text(report, encoding="utf-8")
        log_artifact_files(ctx, ingested["mlflow_run_id"], [decision_file, report_file], "gate")
        for key, value in _gate_tags(decision).items():
            client.set_tag(ingested["mlflow_run_id"], key, value)
        gated: Gated = {
            "decision_file": str(decision_file),
            "decision": "passed" if decision.passed else "blocked",
            "technical": "passed" if decision.technical_passed else "blocked",
            "ethical": "passed" if decision.ethical_passed else "blocked",
            "reasons": reasons,
            "uncertain_checks": decision.uncertain_checks(),
            "notes": decision.notes,
            "policy_loosened": loosened,
        }
        record["details"] = {key: value for key, value in gated.items() if key != "decision_file"}
        if not decision.passed:
            record["verdict"] = "blocked"
            record["reasons"] = reasons
        record_event(
            ctx.paths,
            ctx.config,
            "gate_decision",
            ctx.actor,
            {
                "summary": f"{record['details']['decision']} (technical {record['details']['technical']}, "
                f"ethical {record['details']['ethical']}) on data interval {ctx.interval}",
                "reasons": reasons,
                "decision": decision.to_dict(),
                "airflow_run_id": ctx.airflow_run_id,
                "mlflow_run_id": ingested["mlflow_run_id"],
                "data_hash": ingested["data_hash"],
                "config_hash": ctx.config.config_hash,
                # the policy this decision was made under: a later, looser one needs two sign-offs to promote
                "policy": ctx.config.gate.model_dump(mode="json"),
                # the threshold and direction the candidate was evaluated with: it decides with these when scored
                "decision_policy": policy_of_result(evaluation["candidate"]),
                "small_groups": policy_summary(ctx.config.dataset),  # a later looser one also needs sign-offs
                "policy_loosened": loosened,
            },
            f"{ctx.airflow_run_id}:gate_decision",
        )
        # the gate does not raise: a blocked candidate is still registered for inspection
        return {**state, "gated": gated}




def gate_report(
    decision: GateDecision, search: dict[str, Any] | None, loosened: list[str]
) -> tuple[str, list[str]]:
    """The gate report's Markdown and the blocked reasons, with the mitigation search's part when there was one.

    When no option of the search passed on the validation split and the gate
    blocks, one more reason names the conflicting ethical checks and each
    group's base rate (the report's section shows the trade-off).
    """
    reasons = decision.reasons()
    search_section = ""
    if search is not None:
        search_section = gate_report_section(search)
        conflict = blocked_reason(search)
        if conflict is not None and not decision.passed:
            reasons.append(conflict)
    return decision.to_markdown() + search_section + _loosened_section(loosened), reasons


def _search_of(state: RunState) -> dict[str, Any] | None:
    """The mitigation search of this run's train stage (None when there was none)."""
    trained = state.get("trained")
    search_file = None if trained is None else trained.get("mitigation_search_file")
    if not search_file:
        return None
    search: dict[str, Any] = json.loads(Path(search_file).read_text(encoding="utf-8"))
    return search


def _gate_tags(decision: Any) -> dict[str, str]:
    """The gate's run tags: both verdicts, the reasons, and the checks decided on an uncertain estimate."""
    checks = decision.checks
    failed = sum(not check.passed for check in checks)
    uncertain = decision.uncertain_checks()
    return {
        tags.GATE_DECISION: "passed" if decision.passed else "blocked",
        tags.GATE_TECHNICAL: "passed" if decision.technical_passed else "blocked",
        tags.GATE_ETHICAL: "passed" if decision.ethical_passed else "blocked",
        tags.GATE_REASONS: registry.tag_value("; ".join(decision.reasons()) or "all checks passed"),
        tags.GATE_CHECKS: f"{len(checks)} checks: {len(checks) - failed} passed, {failed} failed, "
        f"{len(uncertain)} uncertain",
        tags.GATE_UNCERTAIN: registry.tag_value("; ".join(uncertain) or "none"),
        tags.GATE_CHAMPION: decision.champion_version if decision.champion_version is not None else "none",
    }




@handed_on("registered")
def register(state: RunState) -> RunState:
    """Register the candidate, passed or blocked, with its lineage, gate tags and file checksums."""
    ctx = stage_input(state, "register", "ingested", "trained", "gated")
    ingested, trained, gated = state["ingested"], state["trained"], state["gated"]
    with stage_record(ctx, "register") as record:
        decision = json.loads(Path(gated["decision_file"]).read_text(encoding="utf-8"))
        registry.connect(ctx.paths)
        # checksummed before registration: these are the files the gate's verdict is about
        model_files = model_checksums(trained["model_uri"])
        version_tags = {
            tags.MODEL_DIGEST: manifest_digest(model_files),
            tags.MODEL_FILES: json.dumps(model_files, sort_keys=True),
            tags.AIRFLOW_RUN_ID: ctx.airflow_run_id,
            tags.DATA_HASH: ingested["data_hash"],
            tags.CONFIG_HASH: ctx.config.config_hash,
            tags.DAG_ID: ctx.dag_id,
            tags.DATA_INTERVAL: ctx.interval,
            tags.MLFLOW_RUN_ID: ingested["mlflow_run_id"],
            tags.BETA_FACTOR: trained["beta_factor"],
            tags.CLASS_WEIGHTS: json.dumps(trained["class_weights"], sort_keys=True),
            tags.CLASS_WEIGHTS_HEX: json.dumps(trained["class_weights_hex"], sort_keys=True),
            tags.REWEIGH_SENSITIVE: str(trained.get("reweigh_sensitive", False)).lower(),
            tags.MITIGATION: json.dumps(trained.get("mitigation", {"method": "none"}), sort_keys=True),
            tags.SAMPLE_WEIGHT_SHA256: str(trained.get("sample_weight_sha256")),
            tags.WEIGHTS_CHECK: trained.get("weights_check", "missing"),
            tags.GATE_DECISION: "passed" if decision["passed"] else "blocked",
            tags.GATE_TECHNICAL: "passed" if decision["technical_passed"] else "blocked",
            tags.GATE_ETHICAL: "passed" if decision["ethical_passed"] else "blocked",
            tags.GATE_REASONS: "; ".join(gated["reasons"]) or "all checks passed",
            **{tags.lineage(k): v for k, v in git_state().items()},
        }
        client = registry.connect(ctx.paths)
        version = registry.register_candidate(
            client,
            ctx.config.registry.model_name,
            trained["model_uri"],
            ingested["mlflow_run_id"],
            ctx.airflow_run_id,
            version_tags,
        )
        # the code that trained it, on the run too (the run's other lineage tags are set by the stages)
        for key in (tags.GIT_COMMIT, tags.GIT_DIRTY, tags.MODEL_DIGEST):
            client.set_tag(ingested["mlflow_run_id"], key, version_tags[key])
        record_event(
            ctx.paths,
            ctx.config,
            "registration",
            ctx.actor,
            {
                "summary": f"registered as {version_tags[tags.GATE_DECISION]} (data interval {ctx.interval})",
                "tags": version_tags,
                "model_uri": trained["model_uri"],
                "model_files_sha256": model_files,
            },
            f"{ctx.airflow_run_id}:registration:{version}",
            model_version=version,
        )
        refresh_model_cards(ctx.paths, ctx.config, [version])
        record["details"] = {"model": ctx.config.registry.model_name, "version": version}
        registered: Registered = {"version": version}
        return {**state, "registered": registered}

