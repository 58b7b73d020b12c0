"""The audit log's head anchored in MLflow: a tag on the registered model.

After every append through :func:`pipelines.governance.records.open_audit_log`,
the log's head is written to the tag ``fairgate.audit.head``
(:data:`pipelines.governance.tags.AUDIT_HEAD`) of the configured registered
model, as ``{"entry_hash": HEX, "seq": N}``; the registered model is created
when it does not exist yet (a freeze can come before the first training).
The tag only moves forward.  When it is absent, the number of versions that
carry a ``fairgate.`` tag is what :mod:`pipelines.governance.audit_anchor`
uses to fail closed on an empty log.
"""

from __future__ import annotations

import logging

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.governance import tags
from pipelines.governance.audit_anchor import Anchor, AnchorReading, parse_anchor

logger = logging.getLogger(__name__)

WHERE = "the registry tag " + tags.AUDIT_HEAD + " of {name!r}"


class RegistryAnchor:
    """The head of the audit log, kept as a tag of the registered model ``model_name``.

    Parameters
    ----------
    client : MlflowClient
        A client of the project's registry.
    model_name : str
        The configured registered model.
    """

    def __init__(self, client: MlflowClient, model_name: str) -> None:
        self._client = client
        self._name = model_name
        self.where = WHERE.format(name=model_name)

    def _stored(self) -> str | None:
        """The tag's text, or None when the model or the tag does not exist."""
        try:
            model = self._client.get_registered_model(self._name)
        except MlflowException as e:
            if e.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        value = model.tags.get(tags.AUDIT_HEAD)
        return None if value is None else str(value)

    def _managed_versions(self) -> int:
        """Versions of the model that carry a ``fairgate.`` tag (what fairgate registered)."""
        versions = self._client.search_model_versions(f"name = '{self._name}'")
        return sum(1 for version in versions if any(key.startswith(tags.PREFIX) for key in version.tags))

    def read(self) -> AnchorReading:
        """Return the anchored head, or what the registry holds instead."""
        stored = self._stored()
        if stored is None:
            return AnchorReading(self.where, None, managed=self._managed_versions())
        anchor = parse_anchor(stored)
        if anchor is None:
            return AnchorReading(self.where, None, unreadable=stored)
        return AnchorReading(self.where, anchor)

    def write(self, anchor: Anchor) -> None:
        """Tag the registered model with ``anchor`` unless it already records that entry or a later one."""
        stored = self._stored()
        current = parse_anchor(stored) if stored is not None else None
        if stored is not None and (current is None or current.seq >= anchor.seq):
            return  # never backwards, and an unreadable tag stays for verify() to report
        if stored is None:
            self._ensure_model()
        self._client.set_registered_model_tag(self._name, tags.AUDIT_HEAD, anchor.to_text())
        logger.info("audit log: head anchored at entry %d in %s", anchor.seq, self.where)

    def _ensure_model(self) -> None:
        try:
            self._client.create_registered_model(self._name)
        except MlflowException as e:
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
