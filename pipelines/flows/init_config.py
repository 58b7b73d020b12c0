"""``fairgate init DATA_FILE``: a commented ``fairgate.yaml`` drafted from the data, for a person to review.

The draft asks nothing silently.  From :func:`pipelines.data.profile.profile_roles`
it proposes the column roles (target with the class balance of every
candidate, sensitive attributes, time column, ids), each written as a guess
with the alternatives it saw.  It then runs the checks a run would run on the
file as it stands (the data audit without a reference, and the leakage checks
on the split the run would make) and proposes every column they block (and
every proxy of a sensitive attribute) under ``dataset.exclude_columns``, with
the finding above it and a placeholder reason starting with
:data:`pipelines.core.config.REVIEW_MARKER`.  Every command refuses a
configuration still holding such a placeholder, so a run never starts on
guesses.

The other sections are the shipped defaults of a lending use case, copied
with their comments from the repository's own ``fairgate.yaml``; the draft
points at the README's section on choosing the fairness checks.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipelines.core.config import (
    CONFIG_FILE_NAME,
    REVIEW_MARKER,
    DatasetSettings,
    FairgateConfig,
    load_config,
    parse_config,
)
from pipelines.core.errors import BadInputError
from pipelines.core.findings import Finding
from pipelines.core.project import CODE_ROOT
from pipelines.core.tables import read_table
from pipelines.data.audit_values import native
from pipelines.data.profile import Candidate, RoleProfile, TargetCandidate, profile_roles

logger = logging.getLogger(__name__)

ERR_EXISTS = "{path} exists: review or move it, or pass --force to replace it with a new draft"
ERR_NO_BINARY = (
    "{path}: no column holds exactly two values on every row, so there is no outcome for a two-class model "
    "to predict; its {count} columns are {shown}"
)
ERR_TARGET_NOT_BINARY = "--target {target!r}: not a column of {path} holding exactly two values on every row{why}"
ERR_PROJECT_FOLDER = "{path}: the project folder does not exist"
ERR_DRAFT_INVALID = "the drafted configuration does not validate once reviewed (a bug in fairgate init): {problem}"

FAIRNESS_CHECKS_LINK = "README.md#choosing-the-fairness-checks"
TEMPLATE = CODE_ROOT / CONFIG_FILE_NAME
# the sections the draft writes itself; every other section of the template is copied as it is
_DRAFTED = ("use_case", "dataset", "registry")
_LEFT_OUT = ("generator",)  # the seeded generator: not used with a file source
_LENDING = ("decision", "gate")
_MAX_PASSES = 5
_SHOWN_COLUMNS = 20
_SHOWN_GROUPS = 6
_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):")


@dataclass
class ConfigDraft:
    """A drafted ``fairgate.yaml`` and what went into it.

    Attributes
    ----------
    text : str
        The commented YAML.
    profile : RoleProfile
        The column roles proposed.
    exclusions : dict
        Column -> the findings that propose excluding it.
    remaining : list of Finding
        Blocking findings that no exclusion answers (rows, the target, a
        sensitive group): a run would still block on them.
    placeholders : list of str
        The dotted keys holding a ``REVIEW:`` placeholder.
    """

    text: str
    profile: RoleProfile
    exclusions: dict[str, list[tuple[str, Finding]]] = field(default_factory=dict)
    remaining: list[tuple[str, Finding]] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)


def draft_config(data_file: Path, project_root: Path, target: str | None = None) -> ConfigDraft:
    """Draft a commented ``fairgate.yaml`` for ``data_file``.

    Parameters
    ----------
    data_file : pathlib.Path
        A CSV or Parquet file (read by :func:`pipelines.core.tables.read_table`).
    project_root : pathlib.Path
        The folder the configuration is for: ``dataset.path`` is written
        relative to it when the file lies inside it.
    target : str, optional
        The outcome column, when the user names it (no guess then).

    Returns
    -------
    ConfigDraft
        The text and what it proposes.

    Raises
    ------
    BadInputError
        The file cannot be read, holds no two-valued column, or ``target``
        is not one.
    """
    frame = read_table(data_file)
    template = load_config(TEMPLATE)
    profile = profile_roles(frame, template.audit, target)
    if not profile.targets:
        shown = profile.columns[:_SHOWN_COLUMNS] + (["..."] if len(profile.columns) > _SHOWN_COLUMNS else [])
        raise BadInputError(ERR_NO_BINARY.format(path=data_file, count=len(profile.columns), shown=shown))
    if target is not None and profile.target is None:
        why = "" if target in profile.columns else " (no such column)"
        raise BadInputError(ERR_TARGET_NOT_BINARY.format(target=target, path=data_file, why=why))
    sensitive = {c.column for c in profile.sensitive}
    eligible = [c for c in profile.targets if c.column not in sensitive] or profile.targets
    checked_target = profile.target or eligible[0]
    exclusions, remaining = _propose_exclusions(frame, profile, checked_target, template)
    draft = ConfigDraft(text="", profile=profile, exclusions=exclusions, remaining=remaining)
    draft.text = _render(draft, data_file, project_root, checked_target, template)
    draft.placeholders = _check_reviewable(draft.text)
    return draft


def write_config(project_root: Path, text: str, *, force: bool = False) -> Path:
    """Write ``fairgate.yaml`` into ``project_root`` atomically; refuse to replace one unless ``force``.

    The text goes to a temporary file in the same folder first, which is then
    linked (no ``force``: fails if the file appeared meanwhile) or renamed
    over the old one: a reader sees the old file or the whole new one, never
    part of it.
    """
    if not project_root.is_dir():
        raise BadInputError(ERR_PROJECT_FOLDER.format(path=project_root))
    destination = project_root / CONFIG_FILE_NAME
    if destination.exists() and not force:
        raise BadInputError(ERR_EXISTS.format(path=destination))
    temporary = project_root / f".{CONFIG_FILE_NAME}.{uuid.uuid4().hex}.draft"
    # created like any file the user writes (mode 0666 less the umask), never over an existing one
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temporary, destination)
        else:
            try:
                os.link(temporary, destination)
            except FileExistsError as e:
                raise BadInputError(ERR_EXISTS.format(path=destination)) from e
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("wrote the draft configuration %s", destination)
    return destination


# --------------------------------------------------------------------------- the checks behind the exclusions


def _check_settings(profile: RoleProfile, target: TargetCandidate, exclude: set[str]) -> DatasetSettings:
    """The dataset settings the proposed roles make (what the run would check)."""
    settings = DatasetSettings(
        source="file",
        path="draft",
        target=target.column,
        positive_label=target.positive_label,
        time_column=profile.time_guess,
        id_columns=profile.id_guess,
        sensitive=profile.sensitive_guess or [target.column + " (none)"],
        exclude_columns=dict.fromkeys(sorted(exclude), "proposed by fairgate init"),
    )
    if not profile.sensitive_guess:
        settings = settings.model_copy(update={"sensitive": []})
    return settings


def _propose_exclusions(
    frame: pd.DataFrame, profile: RoleProfile, target: TargetCandidate, template: FairgateConfig
) -> tuple[dict[str, list[tuple[str, Finding]]], list[tuple[str, Finding]]]:
    """Run the audit and the leakage checks until no finding names a feature not yet excluded."""
    # lazy: Great Expectations, SciPy and scikit-learn, once the input is known to be good
    from pipelines.data.audit import audit_dataset
    from pipelines.data.leakage import find_leakage
    from pipelines.data.split import holdout_mask

    if profile.time_guess is not None:
        frame = frame.assign(**{profile.time_guess: profile.dates[profile.time_guess]})
    exclusions: dict[str, list[tuple[str, Finding]]] = {}
    remaining: list[tuple[str, Finding]] = []
    for _ in range(_MAX_PASSES):
        dataset = _check_settings(profile, target, set(exclusions))
        roles = {dataset.target, *dataset.id_columns, *dataset.sensitive}
        if dataset.time_column:
            roles.add(dataset.time_column)
        audit = audit_dataset(frame, None, dataset, template.audit).report
        is_test = holdout_mask(frame, dataset, template.split)
        leakage = find_leakage(frame, dataset, template.leakage, is_test)
        found = [("audit", f) for f in audit.findings] + [("leakage", f) for f in leakage.findings]
        remaining, added = [], False
        for stage, finding in found:
            column = _excludable_column(stage, finding, roles)
            if column is None:
                if finding.severity == "block":
                    remaining.append((stage, finding))
                continue
            if column not in exclusions:
                added = True
            exclusions.setdefault(column, []).append((stage, finding))
        if not added:
            break
    return exclusions, remaining


def _excludable_column(stage: str, finding: Finding, roles: set[str]) -> str | None:
    """The feature a finding is about, when excluding that one column answers it."""
    if finding.check == "contamination" or not finding.columns:
        return None
    if stage == "audit" and len(finding.columns) != 1:
        return None
    if finding.severity != "block" and finding.check != "proxy":
        return None
    column = finding.columns[0]
    return None if column in roles else column


# --------------------------------------------------------------------------- the text


def _scalar(value: Any) -> str:
    """A YAML flow scalar: JSON for text (always quoted), YAML for the rest."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _comment(text: str) -> str:
    return " ".join(str(text).split())


def _use_case(data_file: Path) -> str:
    name = data_file.name.lower()
    for suffix in (".gz", ".csv", ".parquet"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-") or "my-model"


def _data_path(data_file: Path, project_root: Path) -> str:
    resolved, root = data_file.resolve(), project_root.resolve()
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else resolved.as_posix()


def _groups(frame_counts: dict[Any, int], rows: int) -> str:
    items = list(frame_counts.items())
    shown = ", ".join(f"{value!r} {count / rows:.1%}" for value, count in items[:_SHOWN_GROUPS])
    return shown + (f", ... {len(items) - _SHOWN_GROUPS} more" if len(items) > _SHOWN_GROUPS else "")


def _candidate_lines(candidates: list[Candidate], empty: str) -> list[str]:
    if not candidates:
        return [f"  #   {empty}"]
    lines = []
    for c in candidates:
        verdict = "guess" if c.not_chosen is None else f"not guessed: {c.not_chosen}"
        lines.append(f"  #   {c.column}: {_comment(c.why)}; {_comment(verdict)}")
    return lines


def _render(
    draft: ConfigDraft, data_file: Path, project_root: Path, checked: TargetCandidate, template: FairgateConfig
) -> str:
    # the template's header comment describes the repository's own file, not this draft
    _, sections = _template_sections(TEMPLATE.read_text(encoding="utf-8"))
    use_case = _use_case(data_file)
    lines = [
        f"# fairgate.yaml for {data_file.name}, drafted by `fairgate init` from its {draft.profile.rows} rows and "
        f"{len(draft.profile.columns)} columns.",
        "# Nothing here is reviewed yet. Every 'guess' is fairgate's reading of the data, with the alternatives it",
        f"# saw. Values starting with {REVIEW_MARKER!r} are placeholders: every fairgate command refuses this file",
        "# (exit 2, naming the key) until each one is replaced by the reviewed decision.",
        "# The sections after `dataset` are the shipped defaults of a lending use case (a default is the adverse",
        f"# outcome); before keeping the gate and the decision, read {FAIRNESS_CHECKS_LINK}.",
        f"use_case: {_scalar(use_case)}   # guess: from the file name",
        "",
        *_dataset_lines(draft, data_file, project_root, checked),
    ]
    for name, block in sections.items():
        if name in _DRAFTED or name in _LEFT_OUT:
            continue
        while block and not block[0].strip():
            block = block[1:]
        while block and not block[-1].strip():
            block = block[:-1]
        lines.append("")
        if name in _LENDING:
            lines += [
                f"# {name}: the lending default (a wrong approval costs five wrong refusals; the four-fifths rule,",
                "# demographic parity and equalized odds on every sensitive attribute): a choice to review, not a",
                "# fact about your data. Some of these checks cannot hold together when base rates differ between",
                f"# groups: see {FAIRNESS_CHECKS_LINK}",
            ]
        lines += block
    registry = template.registry
    lines += [
        "",
        "registry:",
        f"  model_name: {_scalar('fairgate-' + use_case)}   # guess: from the file name",
        f"  experiment: {_scalar('fairgate-' + use_case)}",
        f"  champion_alias: {_scalar(registry.champion_alias)}",
        "",
    ]
    return "\n".join(lines)


def _dataset_lines(draft: ConfigDraft, data_file: Path, project_root: Path, checked: TargetCandidate) -> list[str]:
    profile = draft.profile
    target = profile.target
    lines = [
        "dataset:",
        "  source: file",
        f"  path: {_scalar(_data_path(data_file, project_root))}   # relative paths are relative to this folder",
        "  # target: the outcome the model predicts. The two-valued columns without a missing value:",
    ]
    for c in profile.targets:
        mark = "  <- guess" if target is not None and c.column == target.column else ""
        lines.append(f"  #   {c.column}: {c.balance()}{mark}")
    if target is not None:
        lines.append(f"  target: {_scalar(target.column)}   # {_comment(profile.target_why)}")
    else:
        names = ", ".join(c.column for c in profile.targets)
        lines += [
            f"  # {_comment(profile.target_why)}; the checks below were run with {checked.column!r} as the outcome:",
            "  # after choosing, `fairgate init DATA_FILE --target COLUMN --force` drafts again for that choice",
            f"  target: {_scalar(f'{REVIEW_MARKER} pick the outcome column: one of {names}')}",
        ]
    others = [v for v in checked.counts if v != checked.positive_label]
    lines += [
        f"  positive_label: {_scalar(checked.positive_label)}   # guess: {_comment(checked.positive_why)} "
        f"(of {checked.column!r}); the other class: {_scalar(native(others[0]))}",
        "  # guess, the lending default: false says the positive class is the adverse outcome (a default) and",
        "  # fairness is measured on the other one (approvals); true when the positive class is the favourable one",
        "  # (good credit, an approval, a hire). fairgate cannot tell this from the data.",
        "  positive_is_favorable: false",
        "  # time column: the decision time (an out-of-time holdout; other dates are checked against it):",
        *_candidate_lines(
            profile.time, "none: no column holds dates, so the holdout is a seeded stratified split (no out-of-time "
            "validation)"
        ),
        f"  time_column: {_scalar(profile.time_guess)}",
        "  # id columns: never features; an entity on both sides of the split blocks:",
        *_candidate_lines(profile.ids, "none: no column is unique per row or named like an id"),
        f"  id_columns: {json.dumps(profile.id_guess, ensure_ascii=False)}",
        "  # sensitive attributes, each gated by the ethical gate (guessed by name and shape, never by outcome):",
        *_candidate_lines(profile.sensitive, "none found by name or values: name them yourself"),
    ]
    if profile.sensitive_guess:
        lines.append(f"  sensitive: {json.dumps(profile.sensitive_guess, ensure_ascii=False)}")
    else:
        lines.append(f"  sensitive: [{_scalar(REVIEW_MARKER + ' name the sensitive attribute column(s)')}]")
    lines += [
        "  features: null               # null = every other column, minus ids, time, sensitive, excluded",
        "  use_sensitive_as_feature: false",
        *_exclusion_lines(draft),
    ]
    return lines


def _exclusion_lines(draft: ConfigDraft) -> list[str]:
    lines = [
        "  # exclusions: each column below blocks a check as the file stands (a proxy of a sensitive attribute only",
        "  # warns, but would hand the attribute to the model). Excluding a column is a decision: replace each",
        "  # placeholder with why (it is recorded on every run), or delete the line to keep the column and let the",
        "  # check decide.",
    ]
    if not draft.exclusions:
        lines.append("  exclude_columns: {}           # no check blocks on a column of this file")
    else:
        lines.append("  exclude_columns:")
        for column, findings in draft.exclusions.items():
            for stage, finding in findings:
                severity = "blocks" if finding.severity == "block" else "warns"
                lines.append(f"    # {stage}, {finding.check} ({severity}): {_comment(finding.message)}")
            reason = f"{REVIEW_MARKER} why is {column} excluded? (finding above)"
            lines.append(f"    {_scalar(column)}: {_scalar(reason)}")
    if draft.remaining:
        lines.append("  # still blocking after these exclusions (no column to exclude answers it):")
        for stage, finding in draft.remaining:
            lines.append(f"  #   {stage}, {finding.check}: {_comment(finding.message)}")
    return lines


def _template_sections(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """Split a ``fairgate.yaml`` into its header comment and its top-level sections, comments kept."""
    header: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = header
    pending: list[str] = []  # column-0 comments and blank lines: they belong to the key that follows them
    for line in text.splitlines():
        match = _TOP_KEY.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
            current += pending
            pending = []
            current.append(line)
        elif line.startswith("#") or not line.strip():
            pending.append(line)
        else:
            current += pending
            pending = []
            current.append(line)
    current += pending
    return header, sections


def _check_reviewable(text: str) -> list[str]:
    """Return the keys holding a placeholder; check the text validates once they are replaced.

    A draft that would not validate after review is a bug here, not bad input.
    """
    raw = yaml.safe_load(text)
    placeholders: list[str] = []

    def reviewed(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {k: reviewed(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [reviewed(v, f"{key}.{i}") for i, v in enumerate(value)]
        if isinstance(value, str) and value.strip().startswith(REVIEW_MARKER):
            placeholders.append(key)
            return "reviewed"
        return value

    raw["dataset"] = reviewed(raw["dataset"], "dataset")
    try:
        parse_config(raw)
    except BadInputError as e:
        raise RuntimeError(ERR_DRAFT_INVALID.format(problem=e)) from e
    return placeholders
