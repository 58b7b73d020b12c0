"""The model card as a document: inline parts, blocks and sections, and the helpers that read facts into them.

The sections are built from these frozen values and rendered twice, as
Markdown and as HTML (:mod:`pipelines.reports.model_card.render`), so both
formats always say the same thing.  :class:`Missing` is how a fact that was
not recorded (or cannot be read) appears: always with the words
``not recorded`` (or ``unreadable``), never as an invented default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.reports.model_card.facts import NOT_RECORDED, RECORDED, RECORDED_ARTIFACTS, UNREADABLE


@dataclass(frozen=True)
class Code:
    """An identifier, hash or exact value, shown verbatim (a code span)."""

    text: str


@dataclass(frozen=True)
class Strong:
    """Emphasised text."""

    text: str


@dataclass(frozen=True)
class Missing:
    """A fact that was not recorded (or cannot be read): always rendered with the words ``not recorded``."""

    detail: str = ""
    status: str = NOT_RECORDED


Inline = str | Code | Strong | Missing
Cell = tuple[Inline, ...]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of inline parts."""

    parts: Cell


@dataclass(frozen=True)
class Fields:
    """Label-value pairs."""

    rows: tuple[tuple[str, Cell], ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row."""

    headers: tuple[str, ...]
    rows: tuple[Cell, ...]


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[Cell, ...]


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass(frozen=True)
class Image:
    """The per-group plot: a relative link in Markdown, embedded (base64) in HTML."""

    alt: str
    markdown_target: str
    png_base64: str


Block = Paragraph | Fields | Table | Bullets | Heading | Image


@dataclass(frozen=True)
class Section:
    """One titled section of the card."""

    anchor: str
    title: str
    blocks: tuple[Block, ...]


# ------------------------------------------------------------------ reading facts into inline parts


def _cell(*parts: Inline) -> Cell:
    return tuple(parts)


def _number(value: Any, signed: bool = False) -> str:
    """A number for people: 4 significant digits; ``undefined`` for null or NaN; ints exact."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:+d}" if signed else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "undefined"
        return f"{value:+.4g}" if signed else f"{value:.4g}"
    return str(value)


_ABSENT = object()


def _at(tree: Any, *path: str) -> Any:
    """The node at ``path``, or ``_ABSENT`` when any key is missing."""
    node = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _shown(value: Any, signed: bool = False) -> Inline:
    """A recorded number (rounded for display), or ``not recorded`` when absent."""
    if value is _ABSENT:
        return Missing()
    return _number(value, signed)


def _interval(node: Any, signed: bool = False) -> Inline:
    """``[low, high]`` of an interval node, ``no interval`` when undefined, ``not recorded`` when absent."""
    if node is _ABSENT or node is None:
        return Missing()
    if not isinstance(node, Mapping):
        return Missing(f"unexpected interval {node!r}", UNREADABLE)
    low, high = node.get("low"), node.get("high")
    if low is None or high is None:
        undefined = node.get("undefined")
        return f"no interval (undefined in {undefined} resamples)" if undefined else "no interval"
    return f"[{_number(low, signed)}, {_number(high, signed)}]"


EMPTY_VALUE = "(recorded empty)"


def _tag(version_tags: Mapping[str, str], key: str) -> Inline:
    """A tag value shown verbatim, ``not recorded`` when the tag is absent."""
    value = version_tags.get(key)
    if value is None:
        return Missing()
    return Code(value) if value.strip() else EMPTY_VALUE


def _tag_text(version_tags: Mapping[str, str], key: str) -> Inline:
    """A tag holding a sentence, ``not recorded`` when the tag is absent."""
    value = version_tags.get(key)
    if value is None:
        return Missing()
    return value if value.strip() else EMPTY_VALUE


def _artifact(facts: Mapping[str, Any], name: str) -> Any:
    """The content of a recorded JSON artifact, or ``_ABSENT``."""
    item = facts["artifacts"].get(name, {})
    return item["content"] if item.get("status") == RECORDED else _ABSENT


def _artifact_missing(facts: Mapping[str, Any], name: str) -> Missing:
    item = facts["artifacts"].get(name, {"path": RECORDED_ARTIFACTS.get(name, name), "status": NOT_RECORDED})
    if item.get("status") == UNREADABLE:
        return Missing(f"{item['path']}: {item.get('problem', '')}", UNREADABLE)
    return Missing(f"no {item['path']} on the run")


def _json_tag(version_tags: Mapping[str, str], key: str) -> tuple[Any, Inline | None]:
    """A tag holding JSON: the parsed value, or what to show instead (absent or not JSON)."""
    raw = version_tags.get(key)
    if raw is None:
        return _ABSENT, Missing()
    try:
        return json.loads(raw), None
    except ValueError:
        return _ABSENT, Code(raw)


def _config(facts: Mapping[str, Any], *path: str) -> Any:
    return _at(_artifact(facts, "config"), *path)


def _config_value(facts: Mapping[str, Any], *path: str) -> Inline:
    value = _config(facts, *path)
    if value is _ABSENT:
        return Missing("no config/fairgate.json on the run" if _artifact(facts, "config") is _ABSENT else "")
    if isinstance(value, list | dict):
        return Code(json.dumps(value, sort_keys=True, ensure_ascii=False))
    return Code(str(value)) if isinstance(value, str) else Code(json.dumps(value))


def _sources(*paths: str) -> Paragraph:
    parts: list[Inline] = ["Sources: "]
    for index, path in enumerate(paths):
        parts += [", " if index else "", Code(path)]
    parts.append(".")
    return Paragraph(tuple(part for part in parts if part != ""))


def _summary_of(payload: Mapping[str, Any]) -> str:
    """The payload's ``summary`` or ``reason`` (all of it), else its compact JSON."""
    for key in ("summary", "reason"):
        value = payload.get(key)
        if value not in (None, "", []):
            return "; ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)
