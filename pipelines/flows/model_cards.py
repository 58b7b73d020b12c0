"""Writing the model cards, and the MLflow pages, of the versions whose recorded history just changed."""

from __future__ import annotations

from pipelines.core.config import FairgateConfig
from pipelines.core.project import ProjectPaths
from pipelines.governance import registry
from pipelines.governance.champion_record import recorded_champion, recorded_moves
from pipelines.governance.records import open_audit_log
from pipelines.reports.mlflow_pages import model_description
from pipelines.reports.model_card import write_model_card


def refresh_model_cards(paths: ProjectPaths, config: FairgateConfig, versions: list[str | None]) -> None:
    """Write (again) the model card and page of each version whose history just changed, and the model's page."""
    client = registry.connect(paths)
    for version in dict.fromkeys(str(v) for v in versions if v not in (None, "", "none")):
        write_model_card(client, paths, config, version)
    write_model_page(paths, config, client)


def write_model_page(paths: ProjectPaths, config: FairgateConfig, client: registry.MlflowClient) -> None:
    """Describe the registered model in MLflow: its recorded champion and the alias history, latest first.

    Written from the audit log (the record), never from the alias: a move made
    in the MLflow UI is not history, it is an integrity alarm.
    """
    name = config.registry.model_name
    with open_audit_log(paths, config) as log:
        entries = log.entries(model_name=name)
    champion, _ = recorded_champion(entries, name)
    moves = [{"at": e.recorded_at, **e.payload, "actor": e.actor} for e in recorded_moves(entries, name)]
    client.update_registered_model(name, description=model_description(name, moves, champion))
