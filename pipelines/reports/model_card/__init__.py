"""The model card of a registered version: Markdown and HTML, generated only from recorded facts.

:func:`gather_facts` reads what was recorded about one registered version and
nothing else: the version's tags, its MLflow run (params, tags and the
artifacts the ``retrain`` stages logged) and the audit-log entries about it.
:func:`render_markdown` and :func:`render_html` turn those facts into the same
card, whose sections follow the technical documentation that Annex IV of the
EU AI Act asks of a high-risk system (credit scoring is one):

1. general description and intended use (Annex IV 1);
2. data and data governance (Annex IV 2(d), Article 10);
3. training (Annex IV 2(a), 2(b));
4. metrics and their limits (Annex IV 2(g), 3, 4);
5. gate decisions: the test log (Annex IV 2(g));
6. human oversight (Annex IV 2(e), 3; Article 14);
7. changes over the life cycle (Annex IV 6).

Rules the card keeps:

- a fact that was not recorded is shown as *not recorded*, never invented and
  never filled with a default; an artifact that is recorded but cannot be
  read says so, with the problem;
- numbers are rounded for display only (4 significant digits); class weights,
  ``beta_factor`` and the mitigation's costs are shown exactly as recorded
  (their ``repr`` strings); ``model_card.json`` next to the card holds the
  facts themselves, at full precision;
- every recorded string is escaped: ``html.escape`` in HTML, backslash escapes
  (or code spans) in Markdown.

:func:`write_model_card` renders all three files first, then logs them to the
version's MLflow run under ``model_card/`` (overwriting an earlier card) and
sets the version tag ``fairgate.model_card``.  :func:`summarise_split` is the
split stage's half: the data summary the card's data section reads.

The package, read in this order: :mod:`.facts` (gathering the recorded facts
and the split stage's data summary), :mod:`.document` (the blocks a card is
made of), :mod:`.sections` (the card's outline) with
:mod:`.sections_model` (sections 1 to 4) and :mod:`.sections_governance`
(sections 5 to 7), and :mod:`.render` (Markdown and HTML).  This module names
the public surface and writes the card.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from pipelines.core.config import FairgateConfig
from pipelines.core.errors import BadInputError
from pipelines.core.project import ProjectPaths
from pipelines.governance import tags
from pipelines.reports.mlflow_pages import version_description
from pipelines.reports.model_card.facts import (
    DATA_SUMMARY_PATH,
    PER_GROUP_PLOT_PATH,
    RECORDED,
    facts_json,
    gather_facts,
    summarise_split,
)
from pipelines.reports.model_card.render import render_html, render_markdown
from pipelines.reports.model_card.sections import ANNEX_REFERENCES, APPENDIX_TITLES, SECTION_TITLES

__all__ = [
    "ANNEX_REFERENCES",
    "APPENDIX_TITLES",
    "DATA_SUMMARY_PATH",
    "PER_GROUP_PLOT_PATH",
    "SECTION_TITLES",
    "facts_json",
    "gather_facts",
    "render_html",
    "render_markdown",
    "summarise_split",
    "write_model_card",
]

logger = logging.getLogger(__name__)

CARD_FOLDER = "model_card"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"
CARD_JSON = "model_card.json"

ERR_NO_RUN = "model card: version {version} of {name!r} has no MLflow run ({problem}): there is nowhere to log its card"


def write_model_card(client: Any, paths: ProjectPaths, config: FairgateConfig, version: str) -> dict[str, str]:
    """Gather, render and log the card of one registered version; tag the version with its URI.

    The three files (``model_card.md``, ``model_card.html``, ``model_card.json``)
    are rendered into a temporary folder first, so a failure leaves nothing
    half-written; they are then logged to the version's MLflow run under
    ``model_card/``, replacing an earlier card (the card is regenerated after a
    promotion, an approval or a rollback), and the version tag
    ``fairgate.model_card`` is set to the Markdown file's artifact URI.

    Parameters
    ----------
    client : mlflow.tracking.MlflowClient
        A client on the project's tracking and registry store.
    paths : ProjectPaths
        The project (locates the audit log with ``config``).
    config : FairgateConfig
        Gives the registered model's name and the audit log's location.
    version : str
        The registered version.

    Returns
    -------
    dict of str to str
        ``markdown``, ``html`` and ``json``: the artifact paths in the run;
        ``markdown_uri``: the full artifact URI of the Markdown card.

    Raises
    ------
    BadInputError
        The version does not exist or has no MLflow run to log to.
    """
    facts = gather_facts(client, paths, config, version)
    run = facts["run"]
    name, number = facts["model"]["name"], facts["model"]["version"]
    if run["status"] != RECORDED:
        raise BadInputError(ERR_NO_RUN.format(version=number, name=name, problem=run.get("problem")))
    rendered = {
        CARD_MARKDOWN: render_markdown(facts),
        CARD_HTML: render_html(facts),
        CARD_JSON: facts_json(facts),
    }
    with tempfile.TemporaryDirectory(prefix="fairgate-card-") as workdir:
        folder = Path(workdir) / CARD_FOLDER
        folder.mkdir()
        for file_name, text in rendered.items():
            (folder / file_name).write_text(text, encoding="utf-8")
        client.log_artifacts(run["run_id"], str(folder), CARD_FOLDER)
    markdown_uri = f"{run['artifact_uri'].rstrip('/')}/{CARD_FOLDER}/{CARD_MARKDOWN}"
    client.set_model_version_tag(name, number, tags.MODEL_CARD, markdown_uri)
    # the version's page in the MLflow UI states the verdict first, from the same facts as the card
    client.update_model_version(name, number, description=version_description(facts, run.get("experiment_id")))
    logger.info("model card of %s version %s written to %s", name, number, markdown_uri)
    return {
        "markdown": f"{CARD_FOLDER}/{CARD_MARKDOWN}",
        "html": f"{CARD_FOLDER}/{CARD_HTML}",
        "json": f"{CARD_FOLDER}/{CARD_JSON}",
        "markdown_uri": markdown_uri,
    }
