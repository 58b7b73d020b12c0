"""Appending to and reading the project's audit log: one call each, for the flows.

The log itself (keyed hash chain, storage, verification) is
:mod:`pipelines.governance.audit_log`; these helpers open it at the project's
configured address with its head anchored in the registry
(:mod:`pipelines.governance.registry_anchor`), and scope entries to the
configured registered model.  Every append fairgate makes goes through a log
opened here, so every append moves the anchor, and :func:`require_intact_log`
is what a move of ``champion`` checks first.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BlockedError
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.governance import registry
from pipelines.governance.audit_log import AuditLog, Entry, VerifyResult, open_log
from pipelines.governance.registry_anchor import RegistryAnchor

ERR_LOG_NOT_INTACT = (
    "{verdict}; promotion, approval, unfreezing and rollback are refused until the audit log verifies "
    "(see docs/audit-log.md)"
)


def open_audit_log(paths: ProjectPaths, config: FairgateConfig) -> AuditLog:
    """The project's audit log, opened at its configured address, its head anchored in the registry."""
    anchor = RegistryAnchor(registry.connect(paths), config.registry.model_name)
    return open_log(audit_log_url(paths, config), anchor=anchor)


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
    with open_audit_log(paths, config) as log:
        return log.entries(model_version=version, model_name=config.registry.model_name)


def verify_log(paths: ProjectPaths, config: FairgateConfig) -> tuple[VerifyResult, str]:
    """Verify the project's audit log against its chain, its head and the registry's anchor.

    Returns
    -------
    tuple[VerifyResult, str]
        The verdict and the log's URL (password masked).
    """
    with open_audit_log(paths, config) as log:
        return log.verify(), log.url


def require_intact_log(paths: ProjectPaths, config: FairgateConfig) -> VerifyResult:
    """Raise ``BlockedError`` (exit 1, one line) unless the project's audit log verifies.

    Every move of ``champion`` (promotion, approval, rollback) and the lifting
    of a freeze call it first: the decisions they take read the log, so a
    log that is empty, truncated, rewritten or deleted while the registry
    holds fairgate's versions freezes them.

    Returns
    -------
    VerifyResult
        The intact log's verdict.
    """
    result, _ = verify_log(paths, config)
    if not result.ok:
        raise BlockedError("audit_log", [ERR_LOG_NOT_INTACT.format(verdict=result.describe())])
    return result
