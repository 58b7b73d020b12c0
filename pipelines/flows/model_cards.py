"""Writing the model cards of the versions whose recorded history just changed."""

from __future__ import annotations

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths
from pipelines.governance import registry
from pipelines.reports.model_card import write_model_card


def refresh_model_cards(paths: ProjectPaths, config: FairgateConfig, versions: list[str | None]) -> None:
    """Write (again) the model card of each version whose recorded history just changed."""
    client = registry.connect(paths)
    for version in dict.fromkeys(str(v) for v in versions if v not in (None, "", "none")):
        write_model_card(client, paths, config, version)
