"""The card's sections about the model and its data: sections 1 to 4.

1. general description and intended use (Annex IV 1);
2. data and data governance (Annex IV 2(d), Article 10);
3. training (Annex IV 2(a), 2(b));
4. metrics and their limits (Annex IV 2(g), 3, 4).

Each ``_section_*`` builder takes the facts that
:func:`~pipelines.reports.model_card.facts.gather_facts` returned and gives the
section's blocks; the smaller builders beside it each give one part of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.governance import tags
from pipelines.model.evaluate import BUSINESS_METRICS, ETHICAL_METRICS, TECHNICAL_METRICS
from pipelines.reports.model_card.document import (
    _ABSENT,
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Heading,
    Image,
    Inline,
    Missing,
    Paragraph,
    Strong,
    Table,
    _artifact,
    _artifact_missing,
    _at,
    _cell,
    _config,
    _config_value,
    _interval,
    _json_tag,
    _number,
    _shown,
    _sources,
    _tag,
    _tag_text,
)
from pipelines.reports.model_card.facts import DATA_SUMMARY_PATH, PER_GROUP_PLOT_PATH, RECORDED

# the card lives in model_card/ of the run: the plot is one folder up
PER_GROUP_PLOT_FROM_CARD = "../" + PER_GROUP_PLOT_PATH


# ------------------------------------------------------------------ 1. general description and intended use


# the cost keys of configurations recorded before issue 15 renamed them (same meaning, lending words)
RECORDED_COST_KEYS = {
    "cost_wrong_favorable": "cost_false_approval",
    "cost_wrong_unfavorable": "cost_false_refusal",
}


def _recorded_cost(facts: Mapping[str, Any], key: str) -> Any:
    """A cost of the recorded configuration, under its name or, for older runs, the name it had then."""
    value = _config(facts, "decision", key)
    return _config(facts, "decision", RECORDED_COST_KEYS[key]) if value is _ABSENT else value


def _cost_value(facts: Mapping[str, Any], key: str) -> Cell:
    """A recorded cost for the card, saying so when it was recorded under its former name."""
    if _config(facts, "decision", key) is not _ABSENT or _recorded_cost(facts, key) is _ABSENT:
        return _cell(_config_value(facts, "decision", key))
    old = RECORDED_COST_KEYS[key]
    return _cell(_config_value(facts, "decision", old), " (recorded as ", Code(old), ")")


def _threshold(facts: Mapping[str, Any]) -> tuple[Inline, str]:
    """The threshold on the positive class's probability: as evaluated when recorded, else from the configuration.

    Evaluations recorded before ``positive_threshold`` existed hold only the refusal
    threshold ``t`` (on the unfavourable outcome): ``s`` was ``t``, or ``1 - t`` when the
    positive class is favourable.
    """
    evaluated = _artifact(facts, "evaluation")
    favourable = _config(facts, "dataset", "positive_is_favorable")
    recorded = _at(evaluated, "candidate", "positive_threshold")
    if isinstance(recorded, int | float) and not isinstance(recorded, bool):
        return Code(repr(float(recorded))), "as evaluated, recorded in evaluation/evaluation.json"
    refusal = _at(evaluated, "candidate", "refusal_threshold")
    if isinstance(refusal, int | float) and not isinstance(refusal, bool) and isinstance(favourable, bool):
        s = 1.0 - float(refusal) if favourable else float(refusal)
        return Code(repr(s)), "from the refusal threshold recorded in evaluation/evaluation.json"
    decision = _config(facts, "decision")
    if isinstance(decision, Mapping) and isinstance(favourable, bool):
        if decision.get("threshold") is not None:
            t = float(decision["threshold"])
            return Code(repr(1.0 - t if favourable else t)), "set explicitly in the recorded configuration"
        wrong_favourable = _recorded_cost(facts, "cost_wrong_favorable")
        wrong_unfavourable = _recorded_cost(facts, "cost_wrong_unfavorable")
        if isinstance(wrong_favourable, int | float) and isinstance(wrong_unfavourable, int | float):
            total = float(wrong_favourable) + float(wrong_unfavourable)
            s = (float(wrong_favourable) if favourable else float(wrong_unfavourable)) / total
            return Code(repr(s)), "derived from the recorded costs (no evaluation recorded)"
    return Missing(), ""


def _positive_label_meaning(facts: Mapping[str, Any]) -> Cell:
    """What the positive label means and how the decision threshold applies to it, from the recorded configuration."""
    target, positive = _config(facts, "dataset", "target"), _config(facts, "dataset", "positive_label")
    favourable = _config(facts, "dataset", "positive_is_favorable")
    if favourable is _ABSENT or target is _ABSENT:
        return (Missing("no config/fairgate.json on the run"),)
    if favourable:
        return (
            f"{target} = {positive} is the favourable outcome: the favourable decision (approval) is taken "
            f"when the predicted probability of {positive} is at least the decision threshold; fairness is "
            "measured on approvals",
        )
    return (
        f"{target} = {positive} is the unfavourable outcome: an application is refused when the predicted "
        f"probability of {positive} exceeds the decision threshold; fairness is measured on approvals",
    )


def _general_fields(facts: Mapping[str, Any]) -> Fields:
    """Use case, model, outcome, costs, threshold, estimator, features and sensitive attributes."""
    params = facts["run"].get("params", {})
    threshold, threshold_source = _threshold(facts)
    sensitive_as_feature = _config(facts, "dataset", "use_sensitive_as_feature")
    features = params.get("features")
    return Fields(
        (
            ("Use case", _cell(_config_value(facts, "use_case"))),
            ("Registered model", _cell(Code(facts["model"]["name"]))),
            ("Version", _cell(Code(facts["model"]["version"]))),
            ("Registered at (MLflow)", _cell(facts["model"]["created_at"] or Missing())),
            ("Outcome predicted (target)", _cell(_config_value(facts, "dataset", "target"))),
            ("Positive label", _cell(_config_value(facts, "dataset", "positive_label"))),
            ("Meaning of the positive label", _positive_label_meaning(facts)),
            ("Cost of a wrong favourable decision (approving a truly unfavourable case)",
             _cost_value(facts, "cost_wrong_favorable")),
            ("Cost of a wrong unfavourable decision (refusing a truly favourable case)",
             _cost_value(facts, "cost_wrong_unfavorable")),
            (
                "Decision threshold (on the predicted probability of the positive label)",
                _cell(threshold, f" ({threshold_source})" if threshold_source else ""),
            ),
            ("Estimator", _cell(Code(params["estimator"]) if "estimator" in params else Missing())),
            ("Features the model uses", _cell(Code(features) if features is not None else Missing())),
            ("Sensitive attributes", _cell(_config_value(facts, "dataset", "sensitive"))),
            (
                "Sensitive attributes used as features",
                _cell(Missing() if sensitive_as_feature is _ABSENT else _number(sensitive_as_feature)),
            ),
        )
    )


def _intended_use(facts: Mapping[str, Any]) -> Paragraph:
    """The recorded intended-use statement, or what the recorded configuration declares instead."""
    intended = _config(facts, "model_card", "intended_use")
    if isinstance(intended, str) and intended.strip():
        return Paragraph((intended,))
    use_case, name = _config(facts, "use_case"), facts["model"]["name"]
    return Paragraph(
        (
            Missing("the recorded configuration declares no intended-use statement"),
            ". What it declares: the model ",
            Code(name),
            " serves the use case ",
            Code(str(use_case)) if use_case is not _ABSENT else Missing(),
            " and decides on each application from the features above, with the costs and "
            "decision threshold above.",
        )
    )


def _implied_out_of_scope(facts: Mapping[str, Any]) -> list[Cell]:
    """Out-of-scope uses the recorded facts imply (sensitive inputs, synthetic data, training period)."""
    declared: list[Cell] = []
    if _config(facts, "dataset", "use_sensitive_as_feature") is False:
        declared.append(("the sensitive attributes are not model inputs: the model is not meant to decide on them",))
    dataset = _config(facts, "dataset")
    if isinstance(dataset, Mapping) and dataset.get("source") == "generator":
        declared.append(("it was trained and validated on synthetic data only (dataset.source: generator)",))
    summary_period = _at(_artifact(facts, "data_summary"), "train", "period")
    if isinstance(summary_period, Mapping):
        declared.append(
            (
                f"it was trained on decisions from {summary_period.get('start')} to {summary_period.get('end')} "
                "only; other periods or populations were not validated",
            )
        )
    return declared


def _out_of_scope_use(facts: Mapping[str, Any]) -> list[Block]:
    """The recorded out-of-scope statement, or what the recorded facts imply."""
    out_of_scope = _config(facts, "model_card", "out_of_scope_use")
    if isinstance(out_of_scope, str) and out_of_scope.strip():
        return [Paragraph((out_of_scope,))]
    declared = _implied_out_of_scope(facts)
    blocks: list[Block] = [
        Paragraph(
            (
                Missing("the recorded configuration declares no out-of-scope statement"),
                ". What the recorded facts imply:" if declared else ".",
            )
        )
    ]
    if declared:
        blocks.append(Bullets(tuple(declared)))
    return blocks


def _section_general(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        _general_fields(facts),
        Heading("Intended use"),
        _intended_use(facts),
        Heading("Out-of-scope use"),
        *_out_of_scope_use(facts),
        _sources("config/fairgate.json", "evaluation/evaluation.json", "run params", "version tags"),
    )


# ------------------------------------------------------------------ 2. data and data governance


def _finding_rows(report: Any) -> tuple[Cell, ...]:
    rows: list[Cell] = []
    for finding in report.get("findings", []) if isinstance(report, Mapping) else []:
        rows.append(
            (
                Code(str(finding.get("check"))),
                str(finding.get("severity")),
                ", ".join(str(c) for c in finding.get("columns") or []) or "(table)",
                str(finding.get("message")),
            )
        )
    return tuple(rows)


def _check_report(facts: Mapping[str, Any], name: str, title: str) -> list[Block]:
    report = _artifact(facts, name)
    if report is _ABSENT:
        return [Fields(((f"{title} verdict", _cell(_artifact_missing(facts, name))),))]
    findings = report.get("findings", []) if isinstance(report, Mapping) else []
    blocking = sum(1 for f in findings if isinstance(f, Mapping) and f.get("severity") == "block")
    blocks: list[Block] = [
        Fields(
            (
                (f"{title} verdict", _cell(Strong(str(report.get("verdict"))))),
                (f"{title} findings", _cell(f"{len(findings)} ({blocking} blocking)")),
                (f"{title} rows checked", _cell(_shown(_at(report, "rows")))),
            )
        )
    ]
    if findings:
        blocks.append(Table(("check", "severity", "columns", "message"), _finding_rows(report)))
    notes = report.get("notes") if isinstance(report, Mapping) else None
    if notes:
        blocks.append(Bullets(tuple((str(note),) for note in notes)))
    return blocks


def _exclusions(facts: Mapping[str, Any]) -> Inline:
    """The columns the recorded configuration excludes, with reasons (``none`` when it excludes none)."""
    exclusions = _config(facts, "dataset", "exclude_columns")
    if exclusions is _ABSENT:
        return Missing()
    return Code(json.dumps(exclusions, sort_keys=True, ensure_ascii=False)) if exclusions else "none"


def _small_groups(facts: Mapping[str, Any]) -> Inline:
    """The recorded small-group policies (merge, report_only, reason) per attribute, ``none`` without any."""
    policies = _config(facts, "dataset", "small_groups")
    if policies is _ABSENT:
        return Missing()
    return Code(json.dumps(policies, sort_keys=True, ensure_ascii=False)) if policies else "none"


def _data_fields(facts: Mapping[str, Any]) -> Fields:
    """Data version and interval, source, column roles and what the run tags say about the data."""
    version_tags = facts["version_tags"]
    run_tags = facts["run"].get("tags", {})
    source = _config(facts, "dataset", "source")
    return Fields(
        (
            ("Data version (DVC md5 of data/)", _cell(_tag(version_tags, tags.DATA_HASH))),
            ("Data interval", _cell(_tag(version_tags, tags.DATA_INTERVAL))),
            (
                "Dataset source",
                _cell(
                    _config_value(facts, "dataset", "source"),
                    " (synthetic: fairgate's seeded generator)" if source == "generator" else "",
                ),
            ),
            ("Time column (decision time)", _cell(_config_value(facts, "dataset", "time_column"))),
            ("Identifier columns", _cell(_config_value(facts, "dataset", "id_columns"))),
            ("Columns excluded, with reasons", _cell(_exclusions(facts))),
            ("Small-group policies (merged / reported, not gated), with reasons", _cell(_small_groups(facts))),
            ("Audit reference (run tag)", _cell(_tag_text(run_tags, tags.AUDIT_REFERENCE))),
            ("Hazards planted (run tag)", _cell(_tag(run_tags, tags.HAZARDS))),
            ("Blocked at (run tag)", _cell(_tag(run_tags, tags.BLOCKED_AT))),
            ("Blocked because (run tag)", _cell(_tag_text(run_tags, tags.BLOCKED_REASONS))),
        )
    )


def _split_table(summary: Any) -> Table:
    """Rows, period and positive-label rate of the training set and the holdout."""
    rows: list[Cell] = []
    for side in ("train", "holdout"):
        part = _at(summary, side)
        if part is _ABSENT:
            rows.append((side, Missing(), Missing(), Missing(), Missing()))
            continue
        period = part.get("period")
        rows.append(
            (
                side,
                _shown(_at(part, "rows")),
                (Missing("no time column") if period is None else str(period.get("start"))),
                (Missing("no time column") if period is None else str(period.get("end"))),
                _shown(_at(part, "positive_label_rate")),
            )
        )
    return Table(("set", "rows", "first decision", "last decision", "positive label rate"), tuple(rows))


def _group_tables(summary: Any, attribute: str) -> list[Block]:
    """The groups of one sensitive attribute: rows and share in the training set and in the holdout."""
    train_groups = _at(summary, "train", "groups", attribute)
    holdout_groups = _at(summary, "holdout", "groups", attribute)
    names = sorted(
        set(train_groups if isinstance(train_groups, Mapping) else {})
        | set(holdout_groups if isinstance(holdout_groups, Mapping) else {})
    )
    group_rows = tuple(
        (
            group,
            _shown(_at(train_groups, group, "rows")),
            _shown(_at(train_groups, group, "share")),
            _shown(_at(holdout_groups, group, "rows")),
            _shown(_at(holdout_groups, group, "share")),
        )
        for group in names
    )
    return [
        Heading(f"Groups of {attribute}"),
        Table(("group", "train rows", "train share", "holdout rows", "holdout share"), group_rows),
    ]


def _split_blocks(facts: Mapping[str, Any]) -> list[Block]:
    """The training set and the holdout from ``data/data_summary.json``, or why it cannot be shown."""
    summary = _artifact(facts, "data_summary")
    if summary is _ABSENT:
        return [
            Paragraph(("Size, period, label rate and group shares: ", _artifact_missing(facts, "data_summary"), "."))
        ]
    blocks: list[Block] = [_split_table(summary)]
    for attribute in summary.get("sensitive", []):
        blocks += _group_tables(summary, attribute)
    return blocks


def _section_data(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        _data_fields(facts),
        Heading("Training set and holdout"),
        *_split_blocks(facts),
        Heading("Data audit and leakage checks"),
        *_check_report(facts, "audit_report", "Audit"),
        *_check_report(facts, "leakage_report", "Leakage"),
        _sources(
            DATA_SUMMARY_PATH,
            "audit/audit_report.json",
            "leakage/leakage_report.json",
            "config/fairgate.json",
            "version and run tags",
        ),
    )


# ------------------------------------------------------------------ 3. training


def _exact_table(mapping: Any, key_header: str, value_header: str) -> Table:
    return Table((key_header, value_header), tuple((str(k), Code(str(v))) for k, v in mapping.items()))


def _weights_check(fingerprint: Any) -> Inline:
    """The reference check of the sample weights as ``training/fingerprint.json`` records it."""
    check = _at(fingerprint, "reference_check")
    if not isinstance(check, Mapping):
        return Missing()
    return (
        f"{check.get('verdict')}: {check.get('rows')} rows, max {check.get('max_ulp_found')} ulp "
        f"found, {check.get('max_ulp_allowed')} allowed"
    )


def _training_fields(facts: Mapping[str, Any]) -> Fields:
    """Estimator and its parameters, training rows, beta_factor, class counts and the weights checks."""
    version_tags = facts["version_tags"]
    params = facts["run"].get("params", {})
    fingerprint = _artifact(facts, "fingerprint")
    estimator_params = {k.partition(".")[2]: v for k, v in params.items() if k.startswith("estimator.")}
    return Fields(
        (
            ("Estimator", _cell(Code(params["estimator"]) if "estimator" in params else Missing())),
            (
                "Estimator parameters",
                _cell(Code(json.dumps(estimator_params, sort_keys=True)) if estimator_params else Missing()),
            ),
            ("Training rows", _cell(Code(params["train_rows"]) if "train_rows" in params else Missing())),
            ("beta_factor (exact)", _cell(_tag(version_tags, tags.BETA_FACTOR))),
            (
                "Class counts",
                _cell(
                    Missing()
                    if _at(fingerprint, "class_counts") is _ABSENT
                    else Code(json.dumps(fingerprint["class_counts"], sort_keys=True))
                ),
            ),
            ("Sensitive reweighing", _cell(_tag(version_tags, tags.REWEIGH_SENSITIVE))),
            ("SHA-256 of the sample weights received", _cell(_tag(version_tags, tags.SAMPLE_WEIGHT_SHA256))),
            ("Weights check (against the 50-digit reference)", _cell(_tag_text(version_tags, tags.WEIGHTS_CHECK))),
            ("Weights check in training/fingerprint.json", _cell(_weights_check(fingerprint))),
        )
    )


def _class_weight_blocks(facts: Mapping[str, Any]) -> list[Block]:
    """The class weights exactly as tagged, and whether the fingerprint records the same."""
    version_tags = facts["version_tags"]
    weights, weights_problem = _json_tag(version_tags, tags.CLASS_WEIGHTS)
    hexes, _ = _json_tag(version_tags, tags.CLASS_WEIGHTS_HEX)
    if weights_problem is not None:
        return [Paragraph((tags.CLASS_WEIGHTS + ": ", weights_problem))]
    if not isinstance(weights, Mapping):
        return []
    rows = tuple(
        (
            str(label),
            Code(str(value)),
            Code(str(hexes[label])) if isinstance(hexes, Mapping) and label in hexes else Missing(),
        )
        for label, value in weights.items()
    )
    recorded = _at(_artifact(facts, "fingerprint"), "class_weights_repr")
    agreement: Inline = (
        Missing("no training/fingerprint.json on the run")
        if recorded is _ABSENT
        else ("yes" if recorded == weights else Strong("NO: the tag and the fingerprint differ"))
    )
    return [
        Table(("class", "weight (repr)", "weight (float.hex)"), rows),
        Paragraph(("training/fingerprint.json records the same class weights: ", agreement)),
    ]


def _cell_weight_blocks(fingerprint: Any) -> list[Block]:
    """The cell weights of the sensitive reweighing, when the fingerprint records it was used."""
    cells = _at(fingerprint, "cell_weights_repr")
    if _at(fingerprint, "reweigh_sensitive") is not True or not isinstance(cells, Mapping):
        return []
    counts = _at(fingerprint, "cell_counts")
    return [
        Heading("Cell weights of the sensitive reweighing (exact, training/fingerprint.json)"),
        Table(
            ("group | class", "rows", "weight (repr)"),
            tuple(
                (Code(str(cell)), _shown(_at(counts, str(cell))), Code(str(weight))) for cell, weight in cells.items()
            ),
        ),
    ]


def _mitigation_blocks(mitigation: Any, problem: Inline | None) -> list[Block]:
    """The fairness mitigation as tagged: method, settings, exact costs, class weights and mixture weights."""
    if problem is not None:
        return [Paragraph((tags.MITIGATION + ": ", problem))]
    if not isinstance(mitigation, Mapping):
        return []
    rows_m: list[tuple[str, Cell]] = [("Method", _cell(Code(str(mitigation.get("method")))))]
    for key in ("constraint", "difference_bound", "max_iter", "positive_threshold", "oracle_calls"):
        if key in mitigation:
            rows_m.append((key.replace("_", " ").capitalize(), _cell(Code(str(mitigation[key])))))
    blocks: list[Block] = [Fields(tuple(rows_m))]
    for key, title in (("costs", "cost"), ("class_weights", "class")):
        if isinstance(mitigation.get(key), Mapping):
            blocks.append(_exact_table(mitigation[key], title, f"reduction {key.replace('_', ' ')} (exact)"))
    if isinstance(mitigation.get("mixture_weights"), list):
        blocks.append(
            Paragraph(("Mixture weights (exact): ", Code(", ".join(map(str, mitigation["mixture_weights"])))))
        )
    return blocks


def _mitigation_cost_blocks(facts: Mapping[str, Any], mitigation: Any) -> list[Block]:
    """What the mitigation cost on the key metrics (``evaluation/mitigation_cost.json``), or why it is absent."""
    cost = _artifact(facts, "mitigation_cost")
    if cost is _ABSENT:
        method = mitigation.get("method") if isinstance(mitigation, Mapping) else None
        detail = " (mitigation method none: nothing to compare)" if method == "none" else ""
        return [Paragraph(("What the mitigation cost: ", _artifact_missing(facts, "mitigation_cost"), detail))]
    cost_rows = tuple(
        (
            Code(str(row.get("metric"))),
            _number(row.get("unmitigated")),
            _number(row.get("mitigated")),
            _number(row.get("difference"), signed=True),
            _interval({"low": row.get("ci_low"), "high": row.get("ci_high")}, signed=True),
            str(row.get("effect")),
        )
        for row in cost.get("rows", [])
        if isinstance(row, Mapping) and row.get("key")
    )
    return [
        Paragraph(
            (
                "What the mitigation cost (mitigated minus the same pipeline without it, same holdout, "
                "paired interval; key metrics, all of them in evaluation/mitigation_cost.json):",
            )
        ),
        Table(("metric", "unmitigated", "mitigated", "difference", "paired interval", "effect"), cost_rows),
    ]


def _section_training(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    mitigation, mitigation_problem = _json_tag(facts["version_tags"], tags.MITIGATION)
    return (
        _training_fields(facts),
        Heading("Class weights (exact, as recorded)"),
        *_class_weight_blocks(facts),
        *_cell_weight_blocks(_artifact(facts, "fingerprint")),
        Heading("Fairness mitigation"),
        *_mitigation_blocks(mitigation, mitigation_problem),
        *_mitigation_cost_blocks(facts, mitigation),
        _sources("run params", "version tags", "training/fingerprint.json", "evaluation/mitigation_cost.json"),
    )


# ------------------------------------------------------------------ 4. metrics and their limits


def _ordered(section: Any, known: Sequence[str]) -> list[str]:
    if not isinstance(section, Mapping):
        return []
    scalars = [k for k, v in section.items() if not isinstance(v, Mapping | list)]
    return [k for k in known if k in scalars] + sorted(k for k in scalars if k not in known)


def _metric_rows(evaluation: Mapping[str, Any], path: tuple[str, ...], names: Sequence[str]) -> tuple[Cell, ...]:
    """Candidate and interval, then (with a champion) champion, interval, difference, paired interval."""
    has_champion = isinstance(evaluation.get("champion"), Mapping)
    rows: list[Cell] = []
    for name in names:
        full = (*path, name)
        champion: Cell = ()
        if has_champion:
            difference = _at(evaluation.get("comparison"), *full)
            champion = (
                _shown(_at(evaluation["champion"], *full)),
                _interval(_at(evaluation["champion"], "intervals", *full)),
                _shown(_at(difference, "difference"), signed=True),
                _interval(difference, signed=True),
            )
        rows.append(
            (
                Code(".".join(full)),
                _shown(_at(evaluation["candidate"], *full)),
                _interval(_at(evaluation["candidate"], "intervals", *full)),
                *champion,
            )
        )
    return tuple(rows)


def _level(evaluation: Any) -> str:
    confidence = _at(evaluation, "bootstrap", "confidence")
    return f"{confidence * 100:g}% interval" if isinstance(confidence, int | float) else "interval"


def _limitations(facts: Mapping[str, Any], evaluation: Any) -> tuple[Cell, ...]:
    items: list[Cell] = []
    decision = _artifact(facts, "gate_decision")
    for check in _at(decision, "uncertain_checks") if isinstance(_at(decision, "uncertain_checks"), list) else []:
        items.append(("Decided on a point estimate whose interval straddles the limit: ", Code(str(check))))
    candidate = _at(evaluation, "candidate")
    if isinstance(candidate, Mapping):
        for family in ("technical", "business"):
            for name in _ordered(candidate.get(family), ()):
                if candidate[family][name] is None:
                    items.append(("Undefined: ", Code(f"{family}.{name}")))
        for attribute, section in (candidate.get("ethical") or {}).items():
            for name in _ordered(section, ()):
                if section[name] is None:
                    items.append(("Undefined: ", Code(f"ethical.{attribute}.{name}")))
            for note in section.get("notes") or []:
                items.append((f"{attribute}: {note}",))
        rows = candidate.get("rows")
        min_group_rows = _config(facts, "audit", "min_group_rows")
        smallest: tuple[int, str, str] | None = None
        for attribute, section in (candidate.get("ethical") or {}).items():
            for group, values in (section.get("by_group") or {}).items():
                if isinstance(values, Mapping) and isinstance(values.get("rows"), int):
                    if smallest is None or values["rows"] < smallest[0]:
                        smallest = (values["rows"], attribute, group)
        text = f"The holdout has {_number(rows)} rows"
        if smallest is not None:
            text += f"; the smallest group is {smallest[2]} of {smallest[1]} with {smallest[0]} rows"
            if isinstance(min_group_rows, int) and smallest[0] < min_group_rows:
                text += f", below audit.min_group_rows = {min_group_rows}: its rates are mostly noise"
        items.append((text + ". Every interval above reflects this size.",))
        latency = candidate.get("latency")
        if isinstance(latency, Mapping):
            items.append(
                (
                    f"Latency is wall time on the machine that ran the evaluation ({latency.get('samples')} "
                    f"timed batches of {latency.get('batch_rows')} rows): it says little about another machine.",
                )
            )
    elif evaluation is _ABSENT:
        items.append(("Metrics: ", _artifact_missing(facts, "evaluation")))
    source = _config(facts, "dataset", "source")
    if source == "generator":
        gap = _config(facts, "generator", "recorded_income_gap")
        items.append(
            (
                "The data is synthetic: generated by fairgate's seeded generator (with a planted measurement bias, "
                f"recorded_income_gap = {gap if gap is not _ABSENT else 'not recorded'}). These metrics say nothing "
                "about how the model would treat real applicants.",
            )
        )
    elif source is _ABSENT:
        items.append(("Whether the data is synthetic: ", Missing("no config/fairgate.json on the run")))
    if _config(facts, "dataset", "time_column") is None:
        items.append(
            (
                "No time column is configured: the holdout is a seeded stratified split, so out-of-time "
                "validation was not possible.",
            )
        )
    return tuple(items)


def _evaluation_fields(evaluation: Mapping[str, Any]) -> Fields:
    """Holdout size, the champion compared, and how the intervals were computed."""
    candidate = evaluation["candidate"]
    boot = evaluation.get("bootstrap") or candidate.get("bootstrap") or {}
    champion_version = evaluation.get("champion_version")
    return Fields(
        (
            ("Holdout rows", _cell(_shown(_at(candidate, "rows")))),
            (
                "Champion compared on the same holdout",
                _cell(f"version {champion_version}" if champion_version is not None else "none (no champion yet)"),
            ),
            (
                "Intervals",
                _cell(
                    f"{_number(boot.get('confidence'))} two-sided {boot.get('interval')} intervals "
                    f"of a seeded {boot.get('method')} bootstrap, {boot.get('resamples')} "
                    f"resamples, seed {boot.get('seed')}, paired: {_number(boot.get('paired'))}"
                ),
            ),
        )
    )


def _metric_headers(evaluation: Mapping[str, Any], level: str) -> tuple[str, ...]:
    """The columns of a metric table: the candidate, then the champion and the difference when there is one."""
    headers: tuple[str, ...] = ("metric", "candidate", level)
    if isinstance(evaluation.get("champion"), Mapping):
        headers += ("champion", f"champion {level}", "difference", f"paired {level} of the difference")
    return headers


def _group_rates_table(evaluation: Mapping[str, Any], attribute: str, section: Mapping[str, Any], level: str) -> Table:
    """Approval rate, TPR and FPR of each group of one attribute, with intervals (and the champion's approvals)."""
    candidate = evaluation["candidate"]
    champion = evaluation.get("champion") if isinstance(evaluation.get("champion"), Mapping) else None
    group_rows: list[Cell] = []
    for group, values in (section.get("by_group") or {}).items():
        path = ("intervals", "ethical", attribute, "by_group", group)
        row: list[Inline] = [group, _shown(_at(values, "rows"))]
        for rate in ("selection_rate", "tpr", "fpr"):
            row += [_shown(_at(values, rate)), _interval(_at(candidate, *path, rate))]
        if champion is not None:
            row.append(_shown(_at(champion, "ethical", attribute, "by_group", group, "selection_rate")))
        group_rows.append(tuple(row))
    group_headers: tuple[str, ...] = ("group", "rows", "approval rate", level, "TPR", level, "FPR", level)
    if champion is not None:
        group_headers += ("champion approval rate",)
    return Table(group_headers, tuple(group_rows))


def _ethical_blocks(evaluation: Mapping[str, Any], headers: tuple[str, ...], level: str) -> list[Block]:
    """Per sensitive attribute: its ethical metrics, its groups' rates and its notes."""
    blocks: list[Block] = []
    for attribute, section in (evaluation["candidate"].get("ethical") or {}).items():
        blocks += [
            Heading(f"Ethical: {attribute}"),
            Table(headers, _metric_rows(evaluation, ("ethical", attribute), _ordered(section, ETHICAL_METRICS))),
            _group_rates_table(evaluation, attribute, section, level),
        ]
        if section.get("notes"):
            blocks.append(Bullets(tuple((str(note),) for note in section["notes"])))
    return blocks


def _evaluation_blocks(facts: Mapping[str, Any]) -> list[Block]:
    """The three metric families of ``evaluation/evaluation.json``, or why they cannot be shown."""
    evaluation = _artifact(facts, "evaluation")
    if evaluation is _ABSENT or not isinstance(_at(evaluation, "candidate"), Mapping):
        return [Paragraph(("Evaluation: ", _artifact_missing(facts, "evaluation"), "."))]
    candidate = evaluation["candidate"]
    level = _level(candidate)
    headers = _metric_headers(evaluation, level)
    return [
        _evaluation_fields(evaluation),
        Heading("Technical"),
        Table(
            headers,
            _metric_rows(evaluation, ("technical",), _ordered(candidate.get("technical"), TECHNICAL_METRICS)),
        ),
        Heading("Business"),
        Table(headers, _metric_rows(evaluation, ("business",), _ordered(candidate.get("business"), BUSINESS_METRICS))),
        *_ethical_blocks(evaluation, headers, level),
    ]


def _per_group_plot(facts: Mapping[str, Any]) -> Block:
    plot = facts["per_group_plot"]
    if plot.get("status") == RECORDED:
        return Image(
            "Approval rate, TPR and FPR per group with their intervals (champion's approval rate as a black mark)",
            PER_GROUP_PLOT_FROM_CARD,
            plot["base64"],
        )
    return Paragraph(("Per-group plot: ", Missing(f"no {PER_GROUP_PLOT_PATH} on the run"), "."))


def _section_metrics(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        *_evaluation_blocks(facts),
        Heading("Approval rate, TPR and FPR per group"),
        _per_group_plot(facts),
        Heading("Known limitations"),
        Bullets(_limitations(facts, _artifact(facts, "evaluation"))),
        _sources("evaluation/evaluation.json", PER_GROUP_PLOT_PATH, "gate/gate_decision.json", "config/fairgate.json"),
    )
