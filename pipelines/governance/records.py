"""Appending to and reading the project's audit log: one call each, for the flows.

The log itself (hash chain, storage, verification) is
:mod:`pipelines.governance.audit_log`; these helpers open it at the project's
configured address and scope entries to the configured registered model.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.governance.audit_log import AuditLog, Entry, open_log


def open_audit_log(paths: ProjectPaths, config: FairgateConfig) -> AuditLog:
    """The project's audit log, opened at its configured address."""
    return open_log(audit_log_url(paths, config))


def append_event(
    log: AuditLog,
    config: FairgateConfig,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    key: str,
    model_version: str | int | None = None,
) -> Entry:
    """Append one event about the registered model (idempotent by key)."""
    return log.append(
        kind,
        actor,
        payload,
        model_name=config.registry.model_name,
        model_version=model_version,
        idempotency_key=key,
    )


def model_entries(log: AuditLog, config: FairgateConfig) -> list[Entry]:
    """The entries of the configured registered model, oldest first."""
    return log.entries(model_name=config.registry.model_name)


def record_event(
    paths: ProjectPaths,
    config: FairgateConfig,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    idempotency_key: str,
    model_version: str | int | None = None,
) -> None:
    """Append one governance event to the tamper-evident audit log (idempotent by key).

    Unlike :func:`append_event`, an event about no version is recorded with no model name.
    """
    with open_audit_log(paths, config) as log:
        log.append(
            kind,
            actor,
            payload,
            model_name=config.registry.model_name if model_version is not None else None,
            model_version=model_version,
            idempotency_key=idempotency_key,
        )


def version_entries(paths: ProjectPaths, config: FairgateConfig, version: str | int | None = None) -> list[Entry]:
    """The audit log's entries of the configured model (of one version when given), oldest first."""
    with open_log(audit_log_url(paths, config)) as log:
        return log.entries(model_version=version, model_name=config.registry.model_name)
