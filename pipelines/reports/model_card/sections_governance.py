"""The card's sections about governance: sections 5 to 7.

5. gate decisions: the test log (Annex IV 2(g));
6. human oversight (Annex IV 2(e), 3; Article 14);
7. changes over the life cycle (Annex IV 6).

Each ``_section_*`` builder takes the facts that
:func:`~pipelines.reports.model_card.facts.gather_facts` returned and gives the
section's blocks; the smaller builders beside it each give one part of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.governance import tags
from pipelines.reports.model_card.document import (
    _ABSENT,
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Heading,
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
    _interval,
    _number,
    _sources,
    _summary_of,
    _tag,
    _tag_text,
)
from pipelines.reports.model_card.facts import RECORDED

# fairgate's rules for moving the champion alias (pipelines/registry.py, pipelines/approvals.py)
OVERSIGHT_RULES = (
    "Only three actions move the champion alias: promotion by the retrain DAG when both gates passed and "
    "deployments are not frozen; an approval while deployments are frozen, which needs a technical and an "
    "ethical sign-off from two different people authenticated by Airflow (the approve DAG); and a rollback.",
    "Each of the three re-checks the target version's gate tags (fairgate.gate.decision, .technical and "
    ".ethical all passed): a version that failed a gate can never become champion, and there is no override. "
    "Each also checks that the version's model files still match the SHA-256 checksums the audit log recorded "
    "at registration, and all three hold one lock (the champion lock) over their checks and the move.",
    "Rollback is triggered by hand (the rollback DAG, or fairgate rollback --reason ...) with a required reason, "
    "or automatically by the monitor DAG (actor fairgate:monitor) on a critical breach of an ethical threshold "
    "whose whole confidence interval lies beyond it, recorded with its evidence as an alert entry: "
    "it moves champion back to the highest version below the current champion that passed every gate and "
    "served before (fairgate.stable_fair=true), or to a named version after checking that it passed; it records "
    "who and why, and it freezes deployments.",
    "Freezing takes one person (it only tightens); unfreezing takes a technical and an ethical sign-off from two "
    "different people, given for the current freeze. Every step is an entry of the tamper-evident audit log.",
)


# ------------------------------------------------------------------ 5. gate decisions


def _check_row(check: Mapping[str, Any]) -> Cell:
    bound = ">=" if check.get("bound") == "min" else "<="
    return (
        Code(str(check.get("metric"))),
        str(check.get("kind", "")).replace("_", "-"),
        _number(check.get("candidate")),
        _interval({"low": check.get("interval_low"), "high": check.get("interval_high")}),
        _number(check.get("champion")) if check.get("champion") is not None else "-",
        _number(check.get("difference"), signed=True) if check.get("difference") is not None else "-",
        _interval({"low": check.get("difference_low"), "high": check.get("difference_high")}, signed=True),
        f"{bound} {_number(check.get('limit'))}",
        str(check.get("confidence")),
        Strong("pass") if check.get("passed") else Strong("FAIL"),
    )


def _verdict(value: Any) -> Inline:
    if value is _ABSENT:
        return Missing()
    return Strong("passed") if value else Strong("blocked")


def _gate_tag_fields(facts: Mapping[str, Any]) -> Fields:
    """The decision as the version and run tags mirror it."""
    version_tags = facts["version_tags"]
    run_tags = facts["run"].get("tags", {})
    return Fields(
        (
            ("Decision (version tag)", _cell(_tag(version_tags, tags.GATE_DECISION))),
            ("Technical gate (version tag)", _cell(_tag(version_tags, tags.GATE_TECHNICAL))),
            ("Ethical gate (version tag)", _cell(_tag(version_tags, tags.GATE_ETHICAL))),
            ("Reasons (version tag)", _cell(_tag_text(version_tags, tags.GATE_REASONS))),
            ("Checks (run tag)", _cell(_tag_text(run_tags, tags.GATE_CHECKS))),
            ("Gated against champion (run tag)", _cell(_tag(run_tags, tags.GATE_CHAMPION))),
        )
    )


def _gate_check_blocks(decision: Mapping[str, Any]) -> list[Block]:
    """Per gate (technical, then ethical): every check with its values, then each check's reason."""
    level = (
        "interval"
        if not isinstance(decision.get("confidence_level"), int | float)
        else (f"{decision['confidence_level'] * 100:g}% interval")
    )
    headers = (
        "metric",
        "kind",
        "candidate",
        level,
        "champion",
        "difference",
        f"paired {level}",
        "limit",
        "confidence",
        "verdict",
    )
    checks = [check for check in decision.get("checks", []) if isinstance(check, Mapping)]
    blocks: list[Block] = []
    for gate in ("technical", "ethical"):
        own = [check for check in checks if check.get("gate") == gate]
        blocks.append(Heading(f"{gate.capitalize()} gate: {len(own)} check(s)"))
        if own:
            blocks.append(Table(headers, tuple(_check_row(check) for check in own)))
            blocks.append(
                Bullets(tuple((Code(str(c.get("metric"))), f" ({c.get('kind')}): ", str(c.get("reason"))) for c in own))
            )
        else:
            blocks.append(Paragraph(("No check recorded for this gate: it fails closed.",)))
    return blocks


def _gate_reason_blocks(decision: Mapping[str, Any]) -> list[Block]:
    """Why the version is blocked (or that every check passed), and the decision's notes."""
    reasons = decision.get("reasons") or []
    blocks: list[Block] = [
        Heading("Why it is blocked" if reasons else "Reasons"),
        Bullets(tuple((str(reason),) for reason in reasons)) if reasons else Paragraph(("None: every check passed.",)),
    ]
    if decision.get("notes"):
        blocks += [Heading("Notes"), Bullets(tuple((str(note),) for note in decision["notes"]))]
    return blocks


def _gate_decision_blocks(facts: Mapping[str, Any]) -> list[Block]:
    """The decision as ``gate/gate_decision.json`` records it, or why it cannot be shown."""
    decision = _artifact(facts, "gate_decision")
    if decision is _ABSENT:
        return [Paragraph(("Every check with its values: ", _artifact_missing(facts, "gate_decision"), "."))]
    return [
        Fields(
            (
                ("Decision (gate/gate_decision.json)", _cell(_verdict(_at(decision, "passed")))),
                ("Technical gate", _cell(_verdict(_at(decision, "technical_passed")))),
                ("Ethical gate", _cell(_verdict(_at(decision, "ethical_passed")))),
                ("Champion version", _cell(str(decision.get("champion_version") or "none"))),
                ("Rule", _cell(str(decision.get("rule")) if decision.get("rule") else Missing())),
            )
        ),
        *_gate_check_blocks(decision),
        *_gate_reason_blocks(decision),
    ]


def _gate_audit_blocks(facts: Mapping[str, Any]) -> list[Block]:
    """The gate_decision entries of the audit log about this version's run."""
    gate_entries = [e for e in facts["audit_log"]["entries"] if e["kind"] == "gate_decision"]
    if not gate_entries:
        return [
            Heading("The decision in the audit log"),
            Paragraph((Missing("no gate_decision entry for this version's run in the audit log"),)),
        ]
    return [
        Heading("The decision in the audit log"),
        Table(
            ("entry", "recorded at (UTC)", "actor", "summary"),
            tuple(
                (str(e["seq"]), str(e["recorded_at"]), str(e["actor"]), _summary_of(e["payload"])) for e in gate_entries
            ),
        ),
    ]


def _section_gate(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        _gate_tag_fields(facts),
        *_gate_decision_blocks(facts),
        *_gate_audit_blocks(facts),
        _sources("gate/gate_decision.json", "version and run tags", "audit log"),
    )


# ------------------------------------------------------------------ 6. human oversight


def _freeze_text(freeze: Mapping[str, Any]) -> Cell:
    """Whether deployments are frozen now, since when, by whom and why (the last freeze or unfreeze entry)."""
    if freeze.get("seq") is None:
        return ("not frozen: no freeze was ever recorded for this model",)
    if freeze.get("frozen"):
        return (
            Strong("FROZEN"),
            f" since {freeze['recorded_at']} by {freeze['actor']} (audit entry {freeze['seq']}): {freeze['reason']}",
        )
    return (
        f"not frozen since {freeze['recorded_at']} (audit entry {freeze['seq']}, "
        f"{freeze['actor']}): {freeze['reason']}",
    )


def _oversight_fields(facts: Mapping[str, Any]) -> Fields:
    """Freeze state, aliases, approval tags and the sign-offs' verdict."""
    version_tags = facts["version_tags"]
    audit = facts["audit_log"]
    aliases = facts["model"]["aliases"]
    return Fields(
        (
            ("Deployments now", _freeze_text(audit["freeze"])),
            ("Aliases on this version now", _cell(Code(", ".join(aliases)) if aliases else "none")),
            ("Awaiting approval (version tag)", _cell(_tag(version_tags, tags.AWAITING_APPROVAL))),
            ("Gated against (version tag)", _cell(_tag(version_tags, tags.GATED_AGAINST))),
            ("Approved by (version tag)", _cell(_tag_text(version_tags, tags.APPROVED_BY))),
            (
                "Sign-offs for this version",
                _cell(audit["approval"]["description"] if audit["sign_offs"] else "none recorded"),
            ),
        )
    )


def _sign_off_block(audit: Mapping[str, Any]) -> Block:
    """Every sign-off recorded for this version: who, which, comment and Airflow run."""
    if not audit["sign_offs"]:
        return Paragraph(("No sign-off recorded for this version.",))
    return Table(
        ("entry", "person", "sign-off", "comment", "Airflow run"),
        tuple(
            (
                str(s["seq"]),
                str(s["actor"]),
                Strong(str(s["sign_off"])),
                str(s["comment"]) if s.get("comment") else "-",
                Code(str(s["airflow_run_id"])) if s.get("airflow_run_id") else "-",
            )
            for s in audit["sign_offs"]
        ),
    )


def _refusal_block(audit: Mapping[str, Any]) -> Block:
    """Every refused attempt about this version recorded in the audit log."""
    refusals = [e for e in audit["entries"] if e["kind"] == "refusal"]
    if not refusals:
        return Paragraph(("None recorded.",))
    return Table(
        ("entry", "recorded at (UTC)", "actor", "what", "reason"),
        tuple(
            (
                str(e["seq"]),
                str(e["recorded_at"]),
                str(e["actor"]),
                str(e["payload"].get("what")),
                str(e["payload"].get("reason")),
            )
            for e in refusals
        ),
    )


def _rules_and_integrity(facts: Mapping[str, Any]) -> list[Block]:
    """Who may move the champion and how rollback works, then the audit log's chain verdict."""
    version_tags = facts["version_tags"]
    audit = facts["audit_log"]
    alias = _config(facts, "registry", "champion_alias")
    alias_name = alias if isinstance(alias, str) else "champion"
    return [
        Heading("Who may move the champion, and how rollback works"),
        Paragraph(
            (
                "fairgate's rules (pipelines/registry.py and pipelines/approvals.py at git commit ",
                _tag(version_tags, tags.GIT_COMMIT),
                "); the alias is ",
                Code(alias_name),
                ":",
            )
        ),
        Bullets(tuple((rule,) for rule in OVERSIGHT_RULES)),
        Heading("Integrity of the audit log"),
        Paragraph(
            (
                Strong("OK") if audit["verify"]["ok"] else Strong("BROKEN: this history cannot be trusted"),
                f": {audit['verify']['description']} (",
                Code(audit["url"]),
                f"; {audit['entries_in_log']} entries; head hash ",
                Code(str(audit["verify"]["head_hash"])),
                ").",
            )
        ),
        Paragraph(_head_line(audit)),
    ]


def _head_line(audit: Mapping[str, Any]) -> tuple[Inline, ...]:
    """The log's head when the card was written, and the entry anchored outside the database."""
    head = audit.get("head")
    if not isinstance(head, Mapping):
        return (Missing("this card's facts hold no audit-log head (written before heads were recorded)"),)
    anchored: tuple[Inline, ...] = (
        (f"; anchored at entry {head['anchored_seq']} in ", Code(str(head["anchor"])))
        if head.get("anchored_seq") is not None
        else ("; not anchored outside the database",)
    )
    return (
        Strong("Audit-log head"),
        f": entry {head['seq']}, hash ",
        Code(str(head["entry_hash"])),
        *anchored,
        ".",
    )


def _section_oversight(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    audit = facts["audit_log"]
    return (
        _oversight_fields(facts),
        Heading("Sign-offs for this version"),
        _sign_off_block(audit),
        Heading("Refused attempts about this version"),
        _refusal_block(audit),
        *_rules_and_integrity(facts),
        _sources("audit log", "version tags"),
    )


# ------------------------------------------------------------------ 7. changes over the life cycle


def _config_match(check: Mapping[str, Any]) -> Cell:
    """Whether the run's ``config/fairgate.json`` hashes to the version's configuration hash."""
    if check["status"] != RECORDED:
        return (Missing("no config/fairgate.json on the run"),)
    if check["match"] is None:
        return (
            "the artifact hashes to ",
            Code(check["computed_from_artifact"]),
            "; the version tag is ",
            Missing(),
        )
    return (
        ("yes" if check["match"] else Strong("NO")),
        ": the artifact hashes to ",
        Code(check["computed_from_artifact"]),
    )


def _life_cycle_fields(facts: Mapping[str, Any]) -> Fields:
    """Where the version came from: commit, configuration, DAG run, MLflow run, model files, service."""
    version_tags = facts["version_tags"]
    run = facts["run"]
    return Fields(
        (
            ("Registered at (MLflow)", _cell(facts["model"]["created_at"] or Missing())),
            ("Git commit", _cell(_tag(version_tags, tags.GIT_COMMIT))),
            ("Working tree dirty", _cell(_tag(version_tags, tags.GIT_DIRTY))),
            ("Configuration hash", _cell(_tag(version_tags, tags.CONFIG_HASH))),
            ("config/fairgate.json matches the configuration hash", _config_match(facts["config_check"])),
            ("DAG", _cell(_tag(version_tags, tags.DAG_ID))),
            ("Airflow run", _cell(_tag(version_tags, tags.AIRFLOW_RUN_ID))),
            ("MLflow run", _cell(Code(run["run_id"]) if run.get("run_id") else Missing(run.get("problem", "")))),
            ("Model source", _cell(Code(str(facts["model"]["source"])))),
            ("SHA-256 of the model's file manifest", _cell(_tag(version_tags, tags.MODEL_DIGEST))),
            ("Served as champion (fairgate.stable_fair)", _cell(_tag(version_tags, tags.STABLE_FAIR))),
            ("Last rollback to this version (version tag)", _cell(_tag_text(version_tags, tags.LAST_ROLLBACK))),
        )
    )


def _life_cycle_events(entries: list[dict[str, Any]]) -> Block:
    """Every audit-log entry about this version, in order."""
    if not entries:
        return Paragraph((Missing("no audit-log entry about this version"),))
    return Table(
        ("entry", "recorded at (UTC)", "actor", "event", "what happened"),
        tuple(
            (
                str(e["seq"]),
                str(e["recorded_at"]),
                str(e["actor"]),
                Strong(str(e["kind"])),
                _summary_of(e["payload"]),
            )
            for e in entries
        ),
    )


def _section_life_cycle(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    return (
        _life_cycle_fields(facts),
        Heading("Events about this version in the audit log"),
        _life_cycle_events(facts["audit_log"]["entries"]),
        _sources("version tags", "audit log", "config/fairgate.json"),
    )
