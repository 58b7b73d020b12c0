"""Appending to and reading the project's audit log: one call each, for the flows.

The log itself (hash chain, storage, verification) is
:mod:`pipelines.governance.audit_log`; these helpers open it at the project's
configured address and scope entries to the configured registered model.
"""

from __future__ import annotations

from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths, audit_log_url
from pipelines.governance.audit_log import Entry, open_log


def record_event(
    paths: ProjectPaths,
    config: FairgateConfig,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    idempotency_key: str,
    model_version: str | int | None = None,
) -> None:
    """Append one governance event to the tamper-evident audit log (idempotent by key)."""
    with open_log(audit_log_url(paths, config)) as log:
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
