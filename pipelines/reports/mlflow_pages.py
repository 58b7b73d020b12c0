"""What the MLflow UI's pages say first: descriptions and names written from the recorded facts.

A blocked version must not look like the champion.  Every registered version,
every ``retrain`` run and the registered model get a Markdown description
whose first line is the verdict (``PASSED`` or ``BLOCKED at <stage>: <check>``),
then the key metrics per family against the champion, the lineage in one line
and links to the gate report and the model card.  The registered model's
description carries the alias history (from the audit log, the record).

Pure functions from recorded facts to text; the flows write them
(:mod:`pipelines.flows.model_cards`, :mod:`pipelines.flows.retrain.mlflow_run`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

FAMILIES = ("technical", "business", "ethical")
GATE_REPORT_PATH = "gate/gate_report.md"
MODEL_CARD_PATH = "model_card/model_card.md"
DESCRIPTION_TAG = "mlflow.note.content"  # a run's description in the MLflow UI


def shown(value: Any) -> str:
    """A value for people: floats to four decimals (the recorded value keeps every digit), None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def artifact_link(experiment_id: str, run_id: str, path: str) -> str:
    """A link, inside the MLflow UI, to one artifact of a run."""
    return f"#/experiments/{experiment_id}/runs/{run_id}/artifacts/{path}"


def version_link(model_name: str, version: str | int) -> str:
    """A link, inside the MLflow UI, to one registered version."""
    return f"#/models/{quote(model_name, safe='')}/versions/{version}"


def gate_verdict_line(gate_decision: Mapping[str, Any] | None, aliases: Sequence[str], awaiting: bool) -> str:
    """The first line of a version's page: its gate verdict, and whether it serves or waits."""
    if not gate_decision:
        return "NO VERDICT RECORDED: the version's gate decision is missing; treat it as blocked"
    if not gate_decision.get("passed"):
        failed = [check for check in gate_decision.get("checks", []) if not check.get("passed")]
        what = failed[0].get("reason") if failed else "; ".join(gate_decision.get("reasons") or []) or "no reason"
        more = f" (and {len(failed) - 1} more failed check(s))" if len(failed) > 1 else ""
        return f"BLOCKED at gate: {what}{more}"
    if "champion" in aliases:
        return "PASSED: the champion (serving)"
    if awaiting:
        return "PASSED: waiting for a technical and an ethical sign-off (deployments frozen); not serving"
    return "PASSED: not serving"


def checks_table(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """The gate's checks as a Markdown table, technical, business then ethical."""
    if not checks:
        return []
    family_of = {check["metric"]: str(check["metric"]).split(".", 1)[0] for check in checks}
    ordered = sorted(checks, key=lambda c: (FAMILIES.index(family_of[c["metric"]])
                                            if family_of[c["metric"]] in FAMILIES else len(FAMILIES)))
    lines = ["| family | metric | candidate | champion | limit | check |", "|---|---|---|---|---|---|"]
    for check in ordered:
        metric = str(check["metric"])
        limit = f"{check.get('bound', '')} {shown(check.get('limit'))}".strip()
        if check.get("kind") not in (None, "absolute"):
            limit = f"{check['kind']}: {limit}"
        verdict = "passed" if check.get("passed") else "**failed**"
        if check.get("confidence") and check.get("confidence") != "confident":
            verdict += f" ({check['confidence']})"
        lines.append(
            f"| {family_of[metric]} | `{metric.split('.', 1)[-1]}` | {shown(check.get('candidate'))} "
            f"| {shown(check.get('champion'))} | {limit} | {verdict} |"
        )
    return lines


def lineage_line(run_tags: Mapping[str, str], prefix: str = "fairgate.") -> str:
    """The lineage in one line: data version, config hash, commit, interval, Airflow run."""
    parts = [
        ("data", run_tags.get(prefix + "data_hash")),
        ("config", (run_tags.get(prefix + "config_hash") or "")[:12] or None),
        ("commit", (run_tags.get(prefix + "git_commit") or "")[:12] or None),
        ("interval", run_tags.get(prefix + "data_interval")),
        ("Airflow run", run_tags.get(prefix + "airflow_run_id")),
    ]
    return "Lineage: " + " · ".join(f"{name} `{value}`" for name, value in parts if value)


def version_description(
    facts: Mapping[str, Any], experiment_id: str | None, card_path: str = MODEL_CARD_PATH
) -> str:
    """A registered version's description, from its model card's facts (verdict first)."""
    model, version_tags = facts["model"], facts.get("version_tags", {})
    gate = facts.get("artifacts", {}).get("gate_decision", {}).get("content")
    awaiting = str(version_tags.get("fairgate.awaiting_approval", "")).lower() == "true"
    lines = [f"**{gate_verdict_line(gate, model.get('aliases') or [], awaiting)}**", ""]
    if gate:
        champion = gate.get("champion_version")
        lines.append(f"Gated against champion version {champion}." if champion else
                     "Gated with no champion: absolute thresholds only.")
        lines += ["", *checks_table(gate.get("checks", [])), ""]
    lines.append(lineage_line(version_tags))
    run_id = model.get("run_id")
    if run_id and experiment_id:
        lines += ["", f"[Gate report]({artifact_link(experiment_id, run_id, GATE_REPORT_PATH)}) · "
                      f"[Model card]({artifact_link(experiment_id, run_id, card_path)})"]
    return "\n".join(lines) + "\n"


def model_description(model_name: str, moves: Sequence[Mapping[str, Any]], champion: str | None) -> str:
    """The registered model's description: the champion, then the alias history from the audit log."""
    lines = [f"**Champion: version {champion}**" if champion else "**No champion yet**", "",
             "Alias history (from the audit log, the record; the alias pencil is not a route):", ""]
    if not moves:
        return "\n".join([*lines, "no move recorded yet"]) + "\n"
    lines += ["| when | action | from | to | who | automatic | why |", "|---|---|---|---|---|---|---|"]
    for move in reversed(moves):  # the latest first
        actor = str(move.get("actor", "?"))
        automatic = "yes" if actor.startswith("fairgate:") else "no"
        to_version, from_version = move.get("to_version"), move.get("from_version")
        cells = [
            str(move.get("at", "?")),
            str(move.get("action", "?")),
            f"[{from_version}]({version_link(model_name, from_version)})" if from_version else "none",
            f"[{to_version}]({version_link(model_name, to_version)})" if to_version else "none",
            actor,
            automatic,
            str(move.get("reason", "")).replace("|", "\\|").replace("\n", " "),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_name(interval: str | None, verdict: str) -> str:
    """A readable run name: ``retrain 2026-11 · blocked at audit``."""
    return f"retrain {interval or '?'} · {verdict}"


def run_description(
    verdict_line: str,
    run_tags: Mapping[str, str],
    key_metrics: Mapping[str, Any],
    champion_metrics: Mapping[str, Any],
    links: Sequence[tuple[str, str]],
) -> str:
    """A ``retrain`` run's description: verdict, key metrics against the champion, lineage, links."""
    lines = [f"**{verdict_line}**", ""]
    if key_metrics:
        lines += ["| family | metric | candidate | champion |", "|---|---|---|---|"]
        for name in sorted(key_metrics, key=lambda n: (FAMILIES.index(n.split(".")[0])
                                                        if n.split(".")[0] in FAMILIES else 9, n)):
            family, _, rest = name.partition(".")
            lines.append(f"| {family} | `{rest}` | {shown(key_metrics[name])} | {shown(champion_metrics.get(name))} |")
        lines.append("")
    lines.append(lineage_line(run_tags))
    if links:
        lines += ["", " · ".join(f"[{text}]({target})" for text, target in links)]
    return "\n".join(lines) + "\n"
