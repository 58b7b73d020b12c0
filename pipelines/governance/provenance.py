"""Following a registered version back to its data, and its data back into a folder.

- :func:`restore_data` puts back exactly the ``data/`` a version trained on,
  from the DVC cache or remote by the hash the version recorded, and verifies
  it: the manifest's own md5 must be that hash, and every file's md5 the one
  the manifest lists. Data that cannot be found is reported as missing, never
  approximated by another version.
- :func:`lineage_chain` gathers the chain a reviewer follows: data hash →
  audit and leakage verdicts → training run → gate decision → registry
  version → every move of ``champion`` since, from the tamper-evident audit
  log (the alias history MLflow does not keep).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError, BlockedError
from pipelines.core.project import ProjectPaths
from pipelines.data.versioning import file_md5
from pipelines.governance import registry, tags
from pipelines.governance.audit_log import Entry
from pipelines.governance.lineage import data_version_files
from pipelines.governance.records import open_audit_log

ERR_NO_HASH = (
    "version {version} of {name!r} has no {tag} tag: the data it trained on was never recorded (broken lineage); "
    "nothing restored"
)
ERR_NOT_FOUND = "the data of version {version} ({data_hash}) cannot be restored: {problem}; nothing restored"
ERR_MISMATCH = (
    "the data fetched for version {version} does not match its recorded hash {data_hash}: {problem}; "
    "nothing restored"
)
ERR_TARGET_NOT_EMPTY = "--to {folder} exists and is not empty: choose a new folder (nothing is overwritten)"


def default_restore_folder(paths: ProjectPaths, model_name: str, version: str) -> Path:
    """Where ``fairgate data restore`` writes without ``--to``: ``var/restored/<model>-v<N>/data``."""
    return paths.root / "var" / "restored" / f"{model_name}-v{version}" / "data"


def restore_data(paths: ProjectPaths, config: FairgateConfig, version: str, to: Path | None = None) -> dict[str, Any]:
    """Restore the ``data/`` folder version ``version`` trained on into ``to``; verify it against its hash.

    Returns
    -------
    dict
        ``folder``, ``data_hash``, ``files`` (relative path to md5) and ``rows`` (Parquet files only).

    Raises
    ------
    BadInputError
        Unknown version, or ``to`` exists and is not empty (exit 2).
    BlockedError
        The version recorded no data hash, or its data is in neither the DVC cache nor the remote, or what
        was fetched does not match the hash (exit 1). Nothing is written in these cases.
    """
    name = config.registry.model_name
    client = registry.connect(paths)
    model_version = registry.get_version(client, name, version)
    data_hash = model_version.tags.get(tags.DATA_HASH)
    if not data_hash:
        raise BlockedError("data restore", [ERR_NO_HASH.format(version=version, name=name, tag=tags.DATA_HASH)])
    folder = (to or default_restore_folder(paths, name, str(version))).resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInputError(ERR_TARGET_NOT_EMPTY.format(folder=folder))
    try:
        cached = data_version_files(paths, data_hash, str(version))
    except BadInputError as e:
        raise BlockedError("data restore", [ERR_NOT_FOUND.format(version=version, data_hash=data_hash,
                                                                problem=str(e))]) from e
    manifest = verify_manifest(paths, data_hash, cached, str(version))
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for relative, source in sorted(cached.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            if file_md5(target) != manifest[relative]:
                raise BlockedError("data restore", [ERR_MISMATCH.format(
                    version=version, data_hash=data_hash, problem=f"{relative} changed while it was copied")])
        if folder.exists():
            folder.rmdir()  # empty, checked above
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    rows = _count_rows(folder, sorted(manifest))
    return {"folder": str(folder), "data_hash": data_hash, "files": manifest, "rows": rows}


def verify_manifest(paths: ProjectPaths, data_hash: str, cached: dict[str, Path], version: str) -> dict[str, str]:
    """Check the DVC manifest of ``data_hash`` and every cached file against it; return path → md5.

    The manifest object's md5 is the hash without ``.dir``; each entry's md5 is
    its file's content hash. Both are recomputed here, not read from DVC's
    state database.
    """
    from dvc.repo import Repo  # lazy: DVC takes about a second to import; only a restore needs it

    with Repo(str(paths.root)) as repo:
        manifest_file = Path(repo.cache.local.oid_to_path(data_hash))
    problems: list[str] = []
    if file_md5(manifest_file) != data_hash.removesuffix(".dir"):
        problems.append("its manifest's md5 differs")
    listed = {
        str(item["relpath"]): str(item["md5"])
        for item in json.loads(manifest_file.read_text(encoding="utf-8"))
    }
    if set(listed) != set(cached):
        problems.append(f"the manifest lists {sorted(listed)} but {sorted(cached)} were found")
    for relative, source in sorted(cached.items()):
        if relative in listed and file_md5(source) != listed[relative]:
            problems.append(f"{relative}: md5 {file_md5(source)}, manifest {listed[relative]}")
    if problems:
        raise BlockedError("data restore", [ERR_MISMATCH.format(version=version, data_hash=data_hash,
                                                               problem="; ".join(problems))])
    return listed


def _count_rows(folder: Path, files: list[str]) -> int | None:

    parquet = [folder / f for f in files if f.endswith(".parquet")]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet) if parquet else None


# ---------------------------------------------------------------- the chain


def lineage_chain(paths: ProjectPaths, config: FairgateConfig, version: str) -> dict[str, Any]:
    """Gather the recorded chain of one registered version (nothing is inferred or defaulted).

    Returns a JSON-ready dict: ``model``, ``version``, ``data``, ``audit``,
    ``training``, ``gate``, ``registration``, ``alias_moves`` (every move of
    ``champion`` from the version's registration on, oldest first, from the
    audit log) and ``audit_log`` (whether its chain verified).
    """
    name = config.registry.model_name
    client = registry.connect(paths)
    model_version = registry.get_version(client, name, version)
    version_tags = dict(model_version.tags)
    run = client.get_run(model_version.run_id) if model_version.run_id else None
    run_tags = dict(run.data.tags) if run is not None else {}
    inputs = _dataset_inputs(run)
    with open_audit_log(paths, config) as log:  # anchored: verify() compares the head with the registry's
        everything = log.entries()
        verified = log.verify()
    entries = [e for e in everything if e.model_name == name]
    own = [e for e in entries if str(e.model_version) == str(version)]
    registration = next((e for e in own if e.kind == "registration"), None)
    # the gate decides before the version exists: its entry names the MLflow run, not the version
    gate_entry = next((e for e in everything if e.kind == "gate_decision"
                       and e.payload.get("mlflow_run_id") == model_version.run_id), None)
    moves = _alias_moves(entries, since=registration.seq if registration is not None else 0)
    return {
        "model": name,
        "version": str(version),
        "data": {
            "data_hash": version_tags.get(tags.DATA_HASH),
            "data_interval": version_tags.get(tags.DATA_INTERVAL),
            "datasets": inputs,
            "restore": f"fairgate data restore --model-version {version}",
        },
        "audit": {
            "audit": run_tags.get(tags.AUDIT_VERDICT),
            "leakage": run_tags.get(tags.LEAKAGE_VERDICT),
            "reference": run_tags.get(tags.AUDIT_REFERENCE),
        },
        "training": {
            "mlflow_run_id": model_version.run_id,
            "dag_id": version_tags.get(tags.DAG_ID),
            "airflow_run_id": version_tags.get(tags.AIRFLOW_RUN_ID),
            "git_commit": version_tags.get(tags.GIT_COMMIT),
            "git_dirty": version_tags.get(tags.GIT_DIRTY),
            "config_hash": version_tags.get(tags.CONFIG_HASH),
            "beta_factor": version_tags.get(tags.BETA_FACTOR),
            "class_weights": version_tags.get(tags.CLASS_WEIGHTS),
            "mitigation": version_tags.get(tags.MITIGATION),
            "weights_check": version_tags.get(tags.WEIGHTS_CHECK),
        },
        "gate": {
            "decision": version_tags.get(tags.GATE_DECISION),
            "technical": version_tags.get(tags.GATE_TECHNICAL),
            "ethical": version_tags.get(tags.GATE_ETHICAL),
            "reasons": version_tags.get(tags.GATE_REASONS),
            "audit_entry": gate_entry.seq if gate_entry is not None else None,
        },
        "registration": {
            "audit_entry": registration.seq if registration is not None else None,
            "at": registration.recorded_at if registration is not None else None,
            "actor": registration.actor if registration is not None else None,
            "model_sha256": version_tags.get(tags.MODEL_DIGEST),
            "stable_fair": version_tags.get(tags.STABLE_FAIR) == "true",
        },
        "alias_moves": moves,
        "audit_log": verified.describe(),
        "audit_log_intact": verified.ok,
    }


def _dataset_inputs(run: Any) -> list[dict[str, Any]]:
    """The MLflow dataset inputs of the training run, as recorded (none without a run)."""
    if run is None or run.inputs is None:
        return []
    return [
        {
            "name": item.dataset.name,
            "context": next((t.value for t in item.tags if t.key == "mlflow.data.context"), None),
            "digest": item.dataset.digest,
            "source": json.loads(item.dataset.source),
            "rows": next((t.value for t in item.tags if t.key == tags.ROWS), None),
        }
        for item in run.inputs.dataset_inputs
    ]


def _alias_moves(entries: list[Entry], since: int) -> list[dict[str, Any]]:
    """Every recorded move of ``champion`` from audit entry ``since`` on, oldest first."""
    return [
        {
            "seq": e.seq,
            "at": e.recorded_at,
            "kind": e.kind,
            "actor": e.actor,
            "from_version": e.payload.get("from_version"),
            "to_version": e.payload.get("to_version"),
            "moved": e.payload.get("moved", True),
            "reason": e.payload.get("reason"),
            "summary": e.payload.get("summary"),
        }
        for e in entries
        if e.seq >= since and e.kind in ("promotion", "rollback") and "to_version" in e.payload
    ]


def render_lineage(chain: dict[str, Any]) -> str:
    """The chain as text for people, one stage of it per block, in the order it happened."""

    def shown(value: Any) -> str:
        return "not recorded" if value in (None, "") else str(value)

    data, audit, training, gate, registration = (
        chain["data"], chain["audit"], chain["training"], chain["gate"], chain["registration"],
    )
    lines = [f"lineage of {chain['model']} version {chain['version']}", ""]
    lines.append(f"data          {shown(data['data_hash'])}  (data interval {shown(data['data_interval'])})")
    for item in data["datasets"]:
        source = item["source"]
        lines.append(f"  dataset     {item['name']}: {shown(item['rows'])} rows, digest {item['digest']}, "
                     f"source {source.get('uri', source)}")
    lines.append(f"  restore     {data['restore']}")
    lines.append(f"audit         {shown(audit['audit'])}")
    lines.append(f"leakage       {shown(audit['leakage'])}")
    lines.append(f"  reference   {shown(audit['reference'])}")
    lines.append(f"training run  MLflow run {shown(training['mlflow_run_id'])}  (DAG {shown(training['dag_id'])}, "
                 f"Airflow run {shown(training['airflow_run_id'])})")
    lines.append(f"  code        git {shown(training['git_commit'])} (dirty: {shown(training['git_dirty'])}), "
                 f"config {shown(training['config_hash'])}")
    lines.append(f"  weights     beta_factor {shown(training['beta_factor'])}, class weights "
                 f"{shown(training['class_weights'])}")
    lines.append(f"  check       {shown(training['weights_check'])}")
    lines.append(f"gate          {shown(gate['decision'])} (technical {shown(gate['technical'])}, ethical "
                 f"{shown(gate['ethical'])}; audit entry {shown(gate['audit_entry'])})")
    lines.append(f"  reasons     {shown(gate['reasons'])}")
    lines.append(f"registry      version {chain['version']} registered {shown(registration['at'])} by "
                 f"{shown(registration['actor'])} (audit entry {shown(registration['audit_entry'])}); "
                 f"model files sha256 {shown(registration['model_sha256'])}")
    lines.append("champion moves since registration (audit log):")
    if not chain["alias_moves"]:
        lines.append("  none")
    for move in chain["alias_moves"]:
        verb = f"{move['from_version']} -> {move['to_version']}" if move["moved"] else "nothing moved"
        lines.append(f"  #{move['seq']:<4} {move['at']}  {move['kind']:<9} {verb:<12} by {move['actor']}: "
                     f"{shown(move['reason'] or move['summary'])}")
    lines.append(f"audit log     {chain['audit_log']}")
    return "\n".join(lines)
