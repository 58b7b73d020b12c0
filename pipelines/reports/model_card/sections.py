"""The card's outline: its title, overview, seven numbered sections and two appendices, in order.

The numbered sections follow the technical documentation that Annex IV of the
EU AI Act asks of a high-risk system (credit scoring is one); their builders
live in :mod:`~pipelines.reports.model_card.sections_model` (sections 1 to 4)
and :mod:`~pipelines.reports.model_card.sections_governance` (sections 5 to 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.governance import tags
from pipelines.reports.model_card.document import (
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Heading,
    Missing,
    Paragraph,
    Section,
    Table,
    _cell,
    _tag,
)
from pipelines.reports.model_card.facts import RECORDED, RECORDED_ARTIFACTS
from pipelines.reports.model_card.sections_governance import _section_gate, _section_life_cycle, _section_oversight
from pipelines.reports.model_card.sections_model import (
    _section_data,
    _section_general,
    _section_metrics,
    _section_training,
)

SECTION_TITLES = (
    "1. General description and intended use",
    "2. Data and data governance",
    "3. Training",
    "4. Metrics and their limits",
    "5. Gate decisions",
    "6. Human oversight",
    "7. Changes over the life cycle",
)
"""The card's numbered sections, in order (Annex IV references follow each title)."""
ANNEX_REFERENCES = (
    "Annex IV 1",
    "Annex IV 2(d), Article 10",
    "Annex IV 2(a), 2(b)",
    "Annex IV 2(g), 3, 4",
    "Annex IV 2(g): test log",
    "Annex IV 2(e), 3; Article 14",
    "Annex IV 6",
)
APPENDIX_TITLES = ("Appendix A. Recorded tags", "Appendix B. Sources of this card")

ROUNDING_NOTE = (
    "Numbers are rounded to 4 significant digits for display only; class weights, beta_factor and the "
    "mitigation's costs are shown exactly as recorded. The exact values are in model_card.json next to this card."
)


# ------------------------------------------------------------------ the appendices


def _appendices(facts: Mapping[str, Any]) -> tuple[Section, ...]:
    run = facts["run"]
    tag_blocks: list[Block] = [
        Heading("Version tags"),
        Table(("tag", "value"), tuple((Code(k), Code(v)) for k, v in facts["version_tags"].items())),
        Heading("Run tags (fairgate.*)"),
        Table(("tag", "value"), tuple((Code(k), Code(v)) for k, v in run.get("tags", {}).items()))
        if run["status"] == RECORDED
        else Paragraph((Missing(run.get("problem", "")),)),
    ]
    rows: list[Cell] = [
        (
            Code(item["path"]),
            item["status"] if item["status"] == RECORDED else Missing(item.get("problem", ""), item["status"]),
        )
        for item in (facts["artifacts"][name] for name in RECORDED_ARTIFACTS if name in facts["artifacts"])
    ]
    plot = facts["per_group_plot"]
    rows.append((Code(plot["path"]), plot["status"] if plot["status"] == RECORDED else Missing()))
    not_recorded = facts.get("not_recorded") or []
    source_blocks: list[Block] = [
        Paragraph(
            (
                "This card was generated only from recorded facts: the registered version's tags, its MLflow "
                "run (params, tags, artifacts) and the audit log. ",
                ROUNDING_NOTE,
            )
        ),
        Table(("run artifact", "status"), tuple(rows)),
        Paragraph((f"Facts looked for and not recorded: {len(not_recorded)}.",)),
    ]
    if not_recorded:
        source_blocks.append(Bullets(tuple((str(item),) for item in not_recorded)))
    return (
        Section("appendix-tags", APPENDIX_TITLES[0], tuple(tag_blocks)),
        Section("appendix-sources", APPENDIX_TITLES[1], tuple(source_blocks)),
    )


# ------------------------------------------------------------------ the whole card


def _card_title(facts: Mapping[str, Any]) -> str:
    return f"Model card: {facts['model']['name']} version {facts['model']['version']}"


def _overview(facts: Mapping[str, Any]) -> tuple[Block, ...]:
    version_tags = facts["version_tags"]
    return (
        Paragraph(
            (
                "Technical documentation of one registered model version, following Annex IV of the EU AI Act "
                "for a high-risk credit-scoring system. ",
                ROUNDING_NOTE,
                " A fact that was not recorded is shown as ",
                Missing(),
                ".",
            )
        ),
        Fields(
            (
                ("Gate decision", _cell(_tag(version_tags, tags.GATE_DECISION))),
                (
                    "Aliases now",
                    _cell(Code(", ".join(facts["model"]["aliases"])) if facts["model"]["aliases"] else "none"),
                ),
                ("Data interval", _cell(_tag(version_tags, tags.DATA_INTERVAL))),
                ("Data version", _cell(_tag(version_tags, tags.DATA_HASH))),
            )
        ),
    )


def _document(facts: Mapping[str, Any]) -> tuple[tuple[Block, ...], tuple[Section, ...]]:
    builders = (
        _section_general,
        _section_data,
        _section_training,
        _section_metrics,
        _section_gate,
        _section_oversight,
        _section_life_cycle,
    )
    sections = tuple(
        Section(f"section-{index}", f"{title} ({reference})", builder(facts))
        for index, (title, reference, builder) in enumerate(
            zip(SECTION_TITLES, ANNEX_REFERENCES, builders, strict=True), start=1
        )
    )
    return _overview(facts), sections + _appendices(facts)
