"""The ``fairgate`` command: run, score, monitor, rollback, freeze, status, init, airflow.

Exit codes: 0 passed (promoted, or waiting for approval while deployments are
frozen: nothing failed), 1 blocked (the pipeline worked and said no), 2 bad
usage or bad input (one line, nothing half-written), 3 crashed or stopped (a
bug, a broken tool, or a signal: no verdict; the message names the log to read).

Approvals and unfreezing are not commands here on purpose: they need the
identity Airflow authenticated (the ``approve`` and ``unfreeze`` DAGs).
"""

from __future__ import annotations

import argparse
import gc
import getpass
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

import yaml

from pipelines.core.config import (
    CONFIG_FILE_NAME,
    HAZARDS,
    MONTH_PATTERN,
    FairgateConfig,
    apply_overrides,
    override_refusals,
)
from pipelines.core.errors import (
    EXIT_BLOCKED,
    EXIT_INTERNAL,
    EXIT_PASSED,
    BadInputError,
    BlockedError,
    FairgateError,
)
from pipelines.core.intervals import ONE_OFF_PATTERN, check_month
from pipelines.core.project import (
    EMBEDDED_AIRFLOW_SETTINGS,
    ProjectPaths,
    airflow_environment,
    find_project_root,
    open_project,
    tracking_uri,
)
from pipelines.flows.monitor_cli import add_monitor_command, monitoring_status
from pipelines.flows.run_summary import (  # noqa: F401 (outcome and read_stage_records: re-exported)
    StageProgress,
    outcome,
    reached_verdict,
    read_stage_records,
    render_summary,
)
from pipelines.governance import tags

# Airflow's own command line, run in a child process. At exit, Python's cyclic garbage collector
# walks every object the run left behind (pandas, Great Expectations, scikit-learn, MLflow): 7 to
# 10 s per `dags test` measured here, after the run's results are already written. Freezing the
# heap as the command returns skips that walk; atexit handlers and log flushing still run.
# `dags test` first has its in-process execution API build the router of the one API version its
# tasks speak, not of all nine (deploy/embedded/fairgate_dags_test.py; docs/benchmarks.md).
DAGS_TEST_HOOK = EMBEDDED_AIRFLOW_SETTINGS / "fairgate_dags_test.py"
_AIRFLOW_MAIN = (
    "import gc, runpy, sys\n"
    "if sys.argv[1:3] == ['dags', 'test']:\n"
    f"    runpy.run_path({str(DAGS_TEST_HOOK)!r}, run_name='fairgate_dags_test')['install']()\n"
    "try:\n"
    "    runpy.run_module('airflow', run_name='__main__', alter_sys=True)\n"
    "finally:\n"
    "    gc.freeze()\n"
)


def airflow_command(*arguments: str) -> list[str]:
    """The argv that runs ``airflow ARGUMENTS`` with this interpreter (no costly collection at exit).

    ``dags test`` runs with :data:`DAGS_TEST_HOOK` installed: its execution API serves the tasks' own
    version only.
    """
    return [sys.executable, "-c", _AIRFLOW_MAIN, *arguments]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _parse_set(values: list[str]) -> dict[str, Any]:
    """``--set key=value`` pairs; values are read as YAML scalars (numbers, booleans, lists)."""
    overrides: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise BadInputError(f"--set expects key=value, found {item!r}")
        key, raw = item.split("=", 1)
        overrides[key.strip()] = yaml.safe_load(raw)
    return overrides


def _previous_month() -> str:
    today = time.gmtime()
    year, month = (today.tm_year, today.tm_mon - 1) if today.tm_mon > 1 else (today.tm_year - 1, 12)
    return f"{year:04d}-{month:02d}"


# ------------------------------------------------------------------ init

ERR_MIGRATE_FAILED = "crashed: airflow db migrate failed (exit {code}); see {log}"


class ToolCrashedError(FairgateError):
    """A tool fairgate runs failed (not the input, not a verdict): exit 3, the message names the log."""

    exit_code = EXIT_INTERNAL



def prepare_embedded(paths: ProjectPaths, quiet: bool = False) -> dict[str, str]:
    """Create the project-local stores and migrate Airflow's SQLite metadata once."""
    env = {**os.environ, **airflow_environment(paths)}
    # airflow standalone starts its components as `airflow ...`: the venv's own must come first
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for folder in (paths.airflow_home, paths.mlflow_dir, paths.runs_dir, paths.root / "var" / "logs"):
        folder.mkdir(parents=True, exist_ok=True)
    marker = paths.airflow_home / ".migrated"
    database_url = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if not marker.is_file() or marker.read_text(encoding="utf-8") != database_url:
        if not quiet:
            _out(f"preparing Airflow metadata database ({database_url}) ...")
        log = paths.root / "var" / "logs" / "airflow-db-migrate.log"
        with log.open("w", encoding="utf-8") as handle:
            completed = subprocess.run(
                airflow_command("db", "migrate"), env=env, stdout=handle, stderr=subprocess.STDOUT
            )
        if completed.returncode != 0:
            raise ToolCrashedError(ERR_MIGRATE_FAILED.format(code=completed.returncode, log=log))
        marker.write_text(database_url, encoding="utf-8")
    return env


# ------------------------------------------------------------------ run


ERR_NOT_STARTED = "fairgate: the retrain DAG did not start its run; see {log}\n"
ERR_STOPPED_BEFORE_START = "fairgate: stopped ({why}) before the retrain DAG started its run; see {log}\n"
ERR_RUN_STOPPED = "fairgate: the run was stopped before its verdict (its MLflow run ends KILLED); see {log}\n"
ERR_NO_VERDICT = "fairgate: the run stopped without a verdict (a failure outside the checks); see {log}\n"
ERR_EXITED_WITHOUT_VERDICT = "the Airflow process exited with code {code} before the run reached a verdict; see {log}"


def _run_key(config: FairgateConfig, paths: ProjectPaths, interval: str) -> str:
    """What makes two runs the same: interval, configuration, and the source file's bytes."""
    digest = hashlib.sha256()
    digest.update(interval.encode())
    digest.update(config.config_hash.encode())
    if config.dataset.source == "file":
        source = Path(str(config.dataset.path))
        source = source if source.is_absolute() else paths.root / source
        if not source.is_file():
            raise BadInputError(f"dataset file not found: {source}")
        digest.update(hashlib.sha256(source.read_bytes()).hexdigest().encode())
    if config.dataset.source == "files":
        from pipelines.data.sources import source_fingerprint  # lazy: fsspec, only for a files source

        digest.update(str(source_fingerprint(config.dataset, paths.root, interval)).encode())
    return digest.hexdigest()[:20]


def _interval_of_run(paths: ProjectPaths, config: FairgateConfig) -> str | None:
    """The interval of a run without ``--interval`` (None: the source holds nothing new; the reason is printed).

    The generator's is the last complete month; a project's own source says
    its own (:func:`pipelines.data.sources.default_interval`), never the clock.
    """
    if config.dataset.source == "generator":
        return _previous_month()
    from pipelines.data.sources import default_interval  # lazy: fsspec and SQLAlchemy, only for own sources

    interval, why = default_interval(config.dataset, paths)
    _out(why)
    return interval


def command_run(args: argparse.Namespace) -> int:
    """Run one governed retraining through Airflow (``airflow dags test``) and summarise it."""
    paths, config = open_project()
    overrides = _parse_set(args.set or [])
    for hazard in args.hazard or []:
        if hazard not in HAZARDS:
            raise BadInputError(f"unknown hazard {hazard!r}; expected one of: {', '.join(HAZARDS)}")
    if args.hazard:
        overrides["generator.hazards"] = list(args.hazard)
    refusals = override_refusals(config, overrides) if overrides else []
    if refusals:
        from pipelines.flows.retrain.context import record_override_refusal  # lazy: imports every stage

        record_override_refusal(paths, config, overrides, refusals, actor=f"cli:{getpass.getuser()}")
        raise BlockedError("overrides", refusals)
    effective = apply_overrides(config, overrides) if overrides else config
    interval = args.interval or _interval_of_run(paths, effective)
    if interval is None:
        return EXIT_PASSED
    check_month(interval)
    if effective.dataset.source != "file" and interval.startswith("data-"):
        from pipelines.data.sources import ERR_NOT_MONTH  # a one-off version is a single file's only

        raise BadInputError(ERR_NOT_MONTH.format(source=effective.dataset.source, interval=interval))
    run_key = _run_key(effective, paths, interval)
    done_file = paths.root / "var" / "completed" / f"{run_key}.json"
    done = json.loads(done_file.read_text(encoding="utf-8")) if done_file.is_file() else None
    if done is not None and not args.force and reached_verdict(paths, done["airflow_run_id"]):
        _out(f"interval {interval} was already processed with this configuration and data "
             f"(run {done['airflow_run_id']}); nothing to do. Use --force to run it again.")
        return render_summary(paths, config, done["airflow_run_id"], None)
    env = prepare_embedded(paths)
    from pipelines.governance import champion_record, registry  # lazy: MLflow, only for the commands that need it

    # a champion moved outside fairgate stops the run before Airflow starts: nothing is gated against it
    champion_record.reconcile(paths, config, registry.connect(paths))
    request_id = uuid.uuid4().hex
    conf = {"interval": interval, "overrides": overrides, "request_id": request_id, "reingest": bool(args.force)}
    log_file = paths.root / "var" / "logs" / f"retrain-{interval}-{request_id[:8]}.log"
    _out(f"running the retrain DAG for interval {interval} through Airflow (log: {log_file}) ...")
    # the generator's month dates its run; a project's own interval travels in the run's conf only, and Airflow
    # dates the run when it runs: a one-off version (data-<hash>) has no date, and a team's history may predate
    # the DAG's start_date, before which Airflow would create the run without running a task
    own_source = effective.dataset.source != "generator"
    logical_date = [] if own_source else [f"{interval}-01T00:00:00+00:00"]
    from pipelines.flows.airflow_child import run_airflow_child  # lazy: only this command starts Airflow

    pointer = paths.root / "var" / "requests" / f"{request_id}.json"
    ended = run_airflow_child(
        airflow_command("dags", "test", "retrain", *logical_date, "-c", json.dumps(conf)), env, log_file, paths.root,
        on_poll=StageProgress(paths, pointer),
    )
    stopped = ended.stopped_because()
    if not pointer.is_file():
        problem = ERR_STOPPED_BEFORE_START.format(why=stopped, log=log_file) if stopped else ERR_NOT_STARTED.format(
            log=log_file
        )
        sys.stderr.write(problem)
        return EXIT_INTERNAL
    request = json.loads(pointer.read_text(encoding="utf-8"))
    airflow_run_id = request["airflow_run_id"]
    if outcome(read_stage_records(paths, airflow_run_id))[0] == EXIT_INTERNAL:
        _settle_unfinished_run(paths, effective, airflow_run_id, stopped, ended.returncode, log_file)
    code = render_summary(paths, effective, airflow_run_id, log_file, stopped=stopped,
                          completed_by=request.get("completed_by"))
    if code in (EXIT_PASSED, EXIT_BLOCKED):
        done_file.parent.mkdir(parents=True, exist_ok=True)
        done_file.write_text(json.dumps({"airflow_run_id": airflow_run_id, "exit_code": code}), encoding="utf-8")
    if code == EXIT_INTERNAL:
        sys.stderr.write((ERR_RUN_STOPPED if stopped else ERR_NO_VERDICT).format(log=log_file))
    return code


def _settle_unfinished_run(
    paths: ProjectPaths, config: FairgateConfig, airflow_run_id: str, stopped: str | None, returncode: int,
    log_file: Path,
) -> None:
    """End the MLflow run of a run without a verdict: KILLED when stopped, else FAILED (crashed) if still open.

    ``stopped_at`` / ``crashed_at`` name the stage in progress: the first one
    without a passed record.
    """
    from pipelines.flows.retrain.mlflow_run import (  # lazy: MLflow, only once the run is over
        FAILED,
        KILLED,
        RUNNING,
        end_mlflow_run,
        find_mlflow_run,
        stage_in_progress,
    )
    from pipelines.governance import registry

    stage = stage_in_progress(paths, airflow_run_id)
    if stopped is not None:
        end_mlflow_run(paths, config, airflow_run_id, KILLED, {tags.STOPPED_AT: stage, tags.STOPPED_REASON: stopped})
        return
    run = find_mlflow_run(registry.connect(paths), config, airflow_run_id)
    if run is not None and run.info.status == RUNNING:
        reason = ERR_EXITED_WITHOUT_VERDICT.format(code=returncode, log=log_file)
        end_mlflow_run(paths, config, airflow_run_id, FAILED, {tags.CRASHED_AT: stage, tags.CRASHED_REASON: reason})


# ------------------------------------------------------------------ rollback and status


def command_rollback(args: argparse.Namespace) -> int:
    """Move ``champion`` back (same logic as the rollback DAG)."""
    from pipelines.flows.champion import rollback  # lazy: MLflow and the stages, only for this command

    actor = f"cli:{getpass.getuser()}"
    move = rollback(f"cli__{uuid.uuid4().hex}", args.reason, args.to, actor=actor, dag_id="cli")
    if move.get("moved", True):
        _out(f"champion moved from version {move['from_version']} to version {move['to_version']} "
             f"by {move['actor']}: {move['reason']}")
    else:
        _out(f"rollback: {move['summary']}")
    return EXIT_PASSED


def command_score(args: argparse.Namespace) -> int:
    """Score one interval's applications with the verified champion (same logic as the score DAG)."""
    from pipelines.flows.score import score  # lazy: MLflow and scikit-learn, only for this command

    scored = score(args.interval, f"cli__{uuid.uuid4().hex}")
    recorded = "already recorded" if scored["already_recorded"] else "recorded"
    _out(f"interval {scored['interval']}: {scored['rows']} application(s) scored with champion version "
         f"{scored['model_version']}, {scored['favorable']} favourable decision(s) "
         f"(threshold {scored['positive_threshold']:.4g} on p_positive)")
    _out(f"decisions: {scored['file']}  ({recorded}: audit entry {scored['audit_seq']})")
    for note in scored["policy_differences"]:
        _out(f"champion version {scored['model_version']}: {note}")
    for shadow in scored["shadows"]:
        _out(f"in shadow (never served): version {shadow['model_version']}, {shadow['shadow_reason']}, "
             f"{shadow['favorable']} favourable decision(s): {shadow['file']}")
        for note in shadow["policy_differences"]:
            _out(f"shadow version {shadow['model_version']}: {note}")
    return EXIT_PASSED


def command_freeze(args: argparse.Namespace) -> int:
    """Freeze automatic promotion (one person suffices: it only tightens); recorded in the audit log."""
    from pipelines.governance.approvals import freeze_deployments

    paths, config = open_project()
    actor = f"cli:{getpass.getuser()}"
    state = freeze_deployments(paths, config, args.reason, actor, f"cli:freeze:{uuid.uuid4().hex}")
    _out(f"deployments {state.describe()}")
    _out("a candidate that passes both gates now waits for a technical and an ethical sign-off from two "
         "different people (approve DAG); lifting the freeze needs the same (unfreeze DAG)")
    return EXIT_PASSED


def command_status(args: argparse.Namespace) -> int:
    """Show the freeze state, the champion, the versions with their gate decisions and sign-offs, the alias moves."""
    from pipelines.governance import champion_record, registry
    from pipelines.governance.approvals import approval_status
    from pipelines.governance.records import verify_log

    paths, config = open_project()
    verdict, _ = verify_log(paths, config)
    if not verdict.ok:
        return _status_alarm(paths, config, verdict.describe())
    client = registry.connect(paths)
    name = config.registry.model_name
    alarm = champion_record.detect(paths, config, client)
    current = registry.champion(client, name, config.registry.champion_alias)
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    waiting = [str(v.version) for v in versions if v.tags.get(tags.AWAITING_APPROVAL) == "true"]
    approvals = approval_status(paths, config, waiting)
    _out(f"model {name}  (MLflow: {tracking_uri(paths)})")
    if alarm is not None:
        _out(f"INTEGRITY ALARM (audit entry {alarm.seq}): {alarm.payload.get('summary', '')}")
        _out("deployments: frozen by the integrity alarm: promotion, approval and rollback are refused until two "
             "people repair it (the repair DAG)")
    _out(f"deployments{' (freeze switch)' if alarm is not None else ''}: {approvals['freeze'].describe()}")
    if approvals["unfreeze"] is not None:
        _out(f"  to unfreeze (unfreeze DAG): {approvals['unfreeze'].describe()}")
    _out(f"champion: {'version ' + str(current.version) if current is not None else 'none'}")
    current_version = str(current.version) if current is not None else "none"
    for version in versions:
        version_tags = version.tags
        _out(f"  v{version.version:<4} gate={version_tags.get(tags.GATE_DECISION, '?'):<8} "
             f"interval={version_tags.get(tags.DATA_INTERVAL, '?')} data={version_tags.get(tags.DATA_HASH, '?')} "
             f"{'stable_fair' if version_tags.get(tags.STABLE_FAIR) == 'true' else ''}")
        if str(version.version) in approvals["versions"]:
            gated_against = version_tags.get(tags.GATED_AGAINST, "none")
            stale = "" if gated_against == current_version else (
                f" (gated against champion {gated_against}, now {current_version}: approval would be refused)"
            )
            _out(f"        awaiting approval{stale}: {approvals['versions'][str(version.version)].describe()}")
    history = registry.alias_history(client, name)
    if history:
        _out("alias moves (latest last):")
        for move in history[-10:]:
            _out(
                f"  {move.get('at', '?')} {move['action']}: {move['from_version'] or 'none'} -> "
                f"{move['to_version'] or 'none'} by {move['actor']}: {move['reason']}"
            )
    monitoring_status(paths, config, _out)
    champion_record.reconcile(paths, config, client)  # an open alarm: exit 1, its one line last
    return EXIT_PASSED


STATUS_ALARM = "audit log: INTEGRITY ALARM: {verdict}"
STATUS_ALARM_FROZEN = (
    "deployments: frozen by the alarm: promotion, approval, unfreezing and rollback are refused until "
    "'fairgate audit verify' passes; the freeze state and sign-offs the log shows cannot be trusted"
)


def _status_alarm(paths: ProjectPaths, config: FairgateConfig, verdict: str) -> int:
    """Status of a project whose audit log does not verify: the alarm, the champion, exit 1."""
    from pipelines.governance import registry

    client = registry.connect(paths)
    current = registry.champion(client, config.registry.model_name, config.registry.champion_alias)
    _out(f"model {config.registry.model_name}  (MLflow: {tracking_uri(paths)})")
    _out(STATUS_ALARM.format(verdict=verdict))
    _out(STATUS_ALARM_FROZEN)
    _out(f"champion: {'version ' + str(current.version) if current is not None else 'none'}")
    return EXIT_BLOCKED


ERR_INIT_OPTIONS = "fairgate init: {options} only go with a DATA_FILE to draft fairgate.yaml from"
ERR_INIT_FOLDER = "FAIRGATE_HOME={path}: no such folder to write fairgate.yaml into"
INIT_WROTE = (
    "wrote {path}: a draft for {data}. Review every line: {count} value(s) still hold a REVIEW: placeholder "
    "({keys}), and every command refuses the file until each is replaced"
)
INIT_STILL_BLOCKS = "note: {count} finding(s) no exclusion answers would still block a run (listed in the file)"


def command_init(args: argparse.Namespace) -> int:
    """Prepare the embedded default stores; with DATA_FILE, draft a commented fairgate.yaml for it instead."""
    if args.data_file is None:
        given = [option for option, value in (("--force", args.force), ("--target", args.target)) if value]
        if given:
            raise BadInputError(ERR_INIT_OPTIONS.format(options=", ".join(given)))
        paths, _ = open_project()
        prepare_embedded(paths)
        _out(f"embedded default ready under {paths.root}")
        return EXIT_PASSED
    from pipelines.flows.init_config import ERR_EXISTS, draft_config, write_config  # lazy: the checks it runs

    home = os.environ.get("FAIRGATE_HOME")
    root = Path(home) if home else Path.cwd()
    if not root.is_dir():
        raise BadInputError(ERR_INIT_FOLDER.format(path=root))
    if (root / CONFIG_FILE_NAME).exists() and not args.force:
        raise BadInputError(ERR_EXISTS.format(path=root / CONFIG_FILE_NAME))  # before the file is read
    draft = draft_config(args.data_file, root, args.target)
    written = write_config(root, draft.text, force=args.force)
    keys = ", ".join(draft.placeholders) or "none"
    _out(INIT_WROTE.format(path=written, data=args.data_file, count=len(draft.placeholders), keys=keys))
    if draft.remaining:
        _out(INIT_STILL_BLOCKS.format(count=len(draft.remaining)))
    return EXIT_PASSED


def command_airflow(args: argparse.Namespace) -> int:
    """Run an ``airflow`` command against this project's embedded default (e.g. ``standalone``)."""
    paths, _ = open_project()
    env = prepare_embedded(paths, quiet=True)
    if not args.airflow_args:
        raise BadInputError("fairgate airflow needs an airflow command, e.g. 'fairgate airflow standalone'")
    os.execvpe(sys.executable, airflow_command(*args.airflow_args), env)
    return EXIT_INTERNAL  # not reached: exec replaces this process


# ------------------------------------------------------------------ audit log

ERR_AUDIT_SUBCOMMAND = "fairgate audit needs a subcommand: verify, log or rekey"
AUDIT_REKEYED = "re-keyed {count} entries written before keyed hashing; now: {verdict}"
ERR_AUDIT_MODEL_VERSION = "--model-version expects a positive integer, found {found!r}"
AUDIT_SUMMARY_WIDTH = 72


def _open_audit_log() -> Any:
    """Open the project's audit log (``FAIRGATE_AUDIT_LOG_URL`` overrides ``audit_log.url``), anchored."""
    from pipelines.governance.records import open_audit_log

    paths, config = open_project()
    return open_audit_log(paths, config)


def _payload_summary(payload: dict[str, Any]) -> str:
    """Return the payload's ``reason`` or ``summary`` if present, else its compact JSON, on one line."""
    present = [payload[key] for key in ("reason", "summary") if payload.get(key) not in (None, "", [])]
    value = present[0] if present else None
    if value is None:
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    elif isinstance(value, list):
        text = "; ".join(str(item) for item in value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= AUDIT_SUMMARY_WIDTH else text[: AUDIT_SUMMARY_WIDTH - 3] + "..."


def command_audit_verify(args: argparse.Namespace) -> int:
    """Check the whole audit-log chain; exit 1 naming the first broken entry."""
    from pipelines.governance import champion_record, registry

    with _open_audit_log() as log:
        result = log.verify()
        _out(f"{result.describe()} ({log.url})")
    if not result.ok:
        return EXIT_BLOCKED
    paths, config = open_project()
    champion_record.reconcile(paths, config, registry.connect(paths))  # the record against the registry
    return EXIT_PASSED


def command_audit_log(args: argparse.Namespace) -> int:
    """Print the recorded events, oldest first: one line each, or a JSON list."""
    version = args.model_version
    if version is not None and (not version.isdecimal() or int(version) < 1):
        raise BadInputError(ERR_AUDIT_MODEL_VERSION.format(found=version))
    with _open_audit_log() as log:
        entries = log.entries(model_version=version)
        result = log.verify()
        shown_url = log.url
    if not result.ok:
        sys.stderr.write(f"fairgate: warning: {result.describe()}; this history cannot be trusted\n")
    if args.json:
        _out(json.dumps([entry.as_dict() for entry in entries], indent=2, ensure_ascii=False))
        return EXIT_PASSED
    if not entries:
        scope = f" about model version {version}" if version is not None else ""
        _out(f"no audit-log entries{scope} ({shown_url})")
    for entry in entries:
        model = entry.model_name or "-"
        if entry.model_version is not None:
            model += f"@{entry.model_version}"
        _out(
            f"{entry.seq:>5}  {entry.recorded_at}  {entry.actor:<18}  {entry.kind:<13}  {model:<28}  "
            f"{_payload_summary(entry.payload)}"
        )
    return EXIT_PASSED


def command_audit_rekey(args: argparse.Namespace) -> int:
    """Re-hash a log written before keyed hashing under the key, after checking its old chain (docs/audit-log.md)."""
    with _open_audit_log() as log:
        count = log.rekey_legacy()
        _out(AUDIT_REKEYED.format(count=count, verdict=log.verify().describe()))
    return EXIT_PASSED


def _audit_needs_subcommand(args: argparse.Namespace) -> int:
    raise BadInputError(ERR_AUDIT_SUBCOMMAND)


def _add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fairgate audit verify`` and ``fairgate audit log``."""
    audit = commands.add_parser("audit", help="verify or show the tamper-evident audit log")
    audit.set_defaults(handler=_audit_needs_subcommand)
    actions = audit.add_subparsers(dest="audit_command")
    verify = actions.add_parser("verify", help="check the whole hash chain; name the first broken entry")
    verify.set_defaults(handler=command_audit_verify)
    history = actions.add_parser("log", help="show the recorded events, oldest first")
    history.add_argument("--model-version", metavar="N", help="only the events about this model version")
    history.add_argument("--json", action="store_true", help="print a JSON list, not one line per entry")
    history.set_defaults(handler=command_audit_log)
    rekey = actions.add_parser("rekey", help="key a log written before keyed hashing (checked first; never anchored)")
    rekey.set_defaults(handler=command_audit_rekey)


# ------------------------------------------------------------------ check


def command_check(args: argparse.Namespace) -> int:
    """Audit and leakage checks on any CSV or Parquet file (no Airflow, no MLflow)."""
    from pipelines.flows.check import command_check as run_check_command

    return run_check_command(args)


def _add_check_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``fairgate check PATH --target COL [...]``: exit 0 pass, 1 blocked, 2 bad usage or input."""
    check = commands.add_parser("check", help="audit and leakage checks on any CSV or Parquet file")
    check.add_argument("path", type=Path, help="a CSV (UTF-8; .csv.gz, .csv.bz2, .csv.xz, .zip) or Parquet file")
    check.add_argument("--target", required=True, help="the outcome column (two classes)")
    check.add_argument("--time-column", help="the decision time (ISO 8601 dates)")
    for option, what in (("--sensitive", "sensitive attribute(s)"), ("--id-column", "identifier column(s)")):
        check.add_argument(option, nargs="+", action="extend", default=[], metavar="COL", help=what)
    check.add_argument("--reference", type=Path, help="the data to compare with (drift, domains, ranges, ids)")
    check.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    check.add_argument("--report", type=Path, metavar="DIR", help="write the HTML report and Data Docs here")
    check.set_defaults(handler=command_check)


def command_data_restore(args: argparse.Namespace) -> int:
    """Put back exactly the data a registered version trained on, verified against its hash."""
    from pipelines.governance.provenance import restore_data

    paths, config = open_project()
    restored = restore_data(paths, config, str(args.model_version), args.to)
    rows = f", {restored['rows']} rows" if restored["rows"] is not None else ""
    _out(f"restored the data of {config.registry.model_name} version {args.model_version} "
         f"({restored['data_hash']}): {len(restored['files'])} file(s){rows}")
    _out("verified: the manifest's md5 is the recorded hash and every file's md5 matches it")
    _out(f"into {restored['folder']}")
    return EXIT_PASSED


def command_lineage(args: argparse.Namespace) -> int:
    """Print the chain of a registered version: data, audit, training run, gate, registry, alias moves."""
    from pipelines.governance import champion_record, registry
    from pipelines.governance.provenance import lineage_chain, render_lineage

    paths, config = open_project()
    chain = lineage_chain(paths, config, str(args.model_version))
    _out(json.dumps(chain, indent=2, sort_keys=True) if args.json else render_lineage(chain))
    if not chain["audit_log_intact"]:
        return EXIT_BLOCKED
    champion_record.reconcile(paths, config, registry.connect(paths))
    return EXIT_PASSED


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a model version number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a model version number (1 or more), found {value}")
    return value


def _month(text: str) -> str:
    if not (MONTH_PATTERN.match(text) or ONE_OFF_PATTERN.match(text)):
        raise argparse.ArgumentTypeError(f"expected a data interval YYYY-MM (or data-<12 hex>), found {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fairgate`` command."""
    parser = argparse.ArgumentParser(prog="fairgate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one governed retraining through Airflow")
    run.add_argument("--interval", help="data interval YYYY-MM (default: the generator's last complete month; "
                     "a project's own source: its latest unprocessed interval, see docs/configuration.md)")
    run.add_argument("--hazard", action="append", choices=HAZARDS, help="plant a generator hazard (repeatable)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a fairgate.yaml key for this run")
    run.add_argument("--force", action="store_true", help="run even if this interval was already processed "
                     "(a batch quarantined before is audited again)")
    run.set_defaults(handler=command_run)
    rollback = commands.add_parser("rollback", help="move champion back to the last fair and stable version")
    rollback.add_argument("--reason", required=True, help="why (recorded)")
    rollback.add_argument("--to", type=int, help="a version that passed every gate")
    rollback.set_defaults(handler=command_rollback)
    score = commands.add_parser("score", help="score one interval's applications with the verified champion")
    score.add_argument("--interval", required=True, type=_month, help="data interval YYYY-MM (as fairgate run)")
    score.set_defaults(handler=command_score)
    add_monitor_command(commands, _month)
    freeze = commands.add_parser("freeze", help="freeze automatic promotion (lifting it needs two people)")
    freeze.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    freeze.set_defaults(handler=command_freeze)
    status = commands.add_parser("status", help="freeze state, champion, versions, sign-offs and alias moves")
    status.set_defaults(handler=command_status)
    init = commands.add_parser("init", help="prepare the embedded default stores; with DATA_FILE, draft "
                               "a commented fairgate.yaml for that file to review")
    init.add_argument("data_file", nargs="?", type=Path, metavar="DATA_FILE", help="a CSV or Parquet file")
    init.add_argument("--target", help="the outcome column (otherwise guessed, or left for you to pick)")
    init.add_argument("--force", action="store_true", help="replace an existing fairgate.yaml")
    init.set_defaults(handler=command_init)
    airflow = commands.add_parser("airflow", help="run an airflow command with this project's settings")
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER, help="e.g. standalone, dags list")
    airflow.set_defaults(handler=command_airflow)
    data = commands.add_parser("data", help="the versioned data behind registered models")
    data_actions = data.add_subparsers(dest="data_command", required=True)
    restore = data_actions.add_parser("restore", help="put back exactly the data a model version trained on")
    restore.add_argument("--model-version", type=_positive_int, required=True, metavar="N")
    restore.add_argument("--to", type=Path, metavar="DIR",
                         help="a new or empty folder (default: var/restored/<model>-v<N>/data)")
    restore.set_defaults(handler=command_data_restore)
    lineage = commands.add_parser("lineage", help="data -> audit -> training run -> gate -> version -> alias moves")
    lineage.add_argument("model_version", type=_positive_int, metavar="N")
    lineage.add_argument("--json", action="store_true", help="print the chain as one JSON object")
    lineage.set_defaults(handler=command_lineage)
    _add_audit_commands(commands)
    _add_check_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # a governed pipeline does not report usage to third parties; set it to false to opt back in
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keeps the summary readable
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except FairgateError as e:
        sys.stderr.write(f"fairgate: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(ERR_INTERRUPTED)
        return EXIT_INTERNAL
    except BrokenPipeError:
        # the reader closed the pipe (`fairgate audit log | head`): nothing more to say, and no crash of ours;
        # stdout is pointed at /dev/null so that the interpreter's own flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PASSED
    except Exception as e:  # noqa: BLE001 - not a verdict: a bug or a broken tool exits 3 with its traceback's log, never 1
        first_line = next(iter(str(e).splitlines()), "")  # one line here: the whole message is in the log
        log = _write_crash_log(args.command)
        sys.stderr.write(ERR_CRASHED.format(error=f"{type(e).__name__}: {first_line}", log=log))
        return EXIT_INTERNAL


def _write_crash_log(command: str) -> str:
    """Write the traceback being handled to the project's ``var/logs`` (or the temporary folder); return its path."""
    text = traceback.format_exc()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        folder = find_project_root() / "var" / "logs"
    except BadInputError:
        folder = Path(tempfile.gettempdir())  # no project to hold it: the message names where it went
    log = folder / f"fairgate-{command}-crash-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log.write_text(text, encoding="utf-8")
    except OSError as e:
        sys.stderr.write(text)
        return ERR_CRASH_LOG_UNWRITABLE.format(log=log, error=e)
    return str(log)


ERR_CRASHED = "fairgate: crashed: {error}; see {log}\n"
ERR_INTERRUPTED = "fairgate: stopped (interrupted) before the command finished: no verdict\n"
ERR_CRASH_LOG_UNWRITABLE = "the traceback above (it could not be written to {log}: {error})"


def console_main() -> None:
    """The ``fairgate`` console script: :func:`main`, then exit without the collector's walk of the heap.

    By the time a command returns, its results are written; the cyclic garbage
    collection Python runs at exit over everything MLflow, DVC and pandas left
    behind would only delay the exit (see ``_AIRFLOW_MAIN``).
    """
    code = main()
    sys.stdout.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
