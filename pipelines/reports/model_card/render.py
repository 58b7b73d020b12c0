"""Rendering the card: Markdown (the per-group plot linked) and one self-contained HTML page (the plot embedded).

Both renderers walk the same document (:func:`~pipelines.reports.model_card.sections._document`),
so the two formats always say the same thing.  Every recorded string is
escaped: backslash escapes (or code spans) in Markdown, ``html.escape`` in HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from pipelines.reports.model_card.document import (
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Heading,
    Inline,
    Missing,
    Paragraph,
    Strong,
    Table,
)
from pipelines.reports.model_card.facts import PER_GROUP_PLOT_PATH
from pipelines.reports.model_card.sections import _card_title, _document

# ------------------------------------------------------------------ Markdown


_WHITESPACE = re.compile(r"\s+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#~!])")


def _md_text(text: str) -> str:
    """Recorded text as inert Markdown: one line, every markup character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", str(text)))


def _md_code(text: str, in_table: bool) -> str:
    content = " ".join(str(text).split("\n"))
    if in_table:
        content = content.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {content} " if content.startswith("`") or content.endswith("`") or not content.strip() else content
    return f"{fence}{padded}{fence}"


def _md_inline(part: Inline, in_table: bool = False) -> str:
    if isinstance(part, Code):
        return _md_code(part.text, in_table)
    if isinstance(part, Strong):
        return f"**{_md_text(part.text)}**"
    if isinstance(part, Missing):
        detail = f" ({_md_text(part.detail)})" if part.detail else ""
        return f"*{_md_text(part.status)}*{detail}"
    return _md_text(part)


def _md_cell(parts: Cell, in_table: bool = False) -> str:
    return "".join(_md_inline(part, in_table) for part in parts)


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"### {_md_text(block.text)}", ""]
    if isinstance(block, Paragraph):
        return [_md_cell(block.parts), ""]
    if isinstance(block, Fields):
        return [f"- **{_md_text(label)}**: {_md_cell(value)}" for label, value in block.rows] + [""]
    if isinstance(block, Bullets):
        return [f"- {_md_cell(item)}" for item in block.items] + [""]
    if isinstance(block, Table):
        if not block.rows:
            return ["*(no rows)*", ""]
        lines = [
            "| " + " | ".join(_md_text(h) for h in block.headers) + " |",
            "|" + "|".join(" --- " for _ in block.headers) + "|",
        ]
        lines += ["| " + " | ".join(_md_cell((cell,), in_table=True) for cell in row) + " |" for row in block.rows]
        return lines + [""]
    return [f"![{_md_text(block.alt)}]({block.markdown_target})", ""]


def render_markdown(facts: Mapping[str, Any]) -> str:
    """Render the model card as Markdown (the per-group plot linked as ``../evaluation/per_group.png``).

    Parameters
    ----------
    facts : dict
        What :func:`gather_facts` returned.

    Returns
    -------
    str
        The card; every recorded string escaped, numbers rounded for display only.
    """
    overview, sections = _document(facts)
    lines = [f"# {_md_text(_card_title(facts))}", ""]
    for block in overview:
        lines += _md_block(block)
    for section in sections:
        lines += [f"## {_md_text(section.title)}", ""]
        for block in section.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------ HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 0; background: #f6f7f9; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #1b1f24; padding-bottom: .4rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .55rem; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
table.fields th { width: 20rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .85rem; word-break: break-all; }
em.missing { color: #9a3412; font-style: italic; }
nav ol { columns: 2; }
img { max-width: 100%; border: 1px solid #d0d7de; }
"""


def _html_inline(part: Inline) -> str:
    if isinstance(part, Code):
        return f"<code>{html.escape(part.text)}</code>"
    if isinstance(part, Strong):
        return f"<strong>{html.escape(part.text)}</strong>"
    if isinstance(part, Missing):
        detail = f" ({html.escape(part.detail)})" if part.detail else ""
        return f'<em class="missing">{html.escape(part.status)}</em>{detail}'
    return html.escape(str(part))


def _html_cell(parts: Cell) -> str:
    return "".join(_html_inline(part) for part in parts)


def _html_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h3>{html.escape(block.text)}</h3>"
    if isinstance(block, Paragraph):
        return f"<p>{_html_cell(block.parts)}</p>"
    if isinstance(block, Fields):
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{_html_cell(value)}</td></tr>" for label, value in block.rows
        )
        return f'<table class="fields"><tbody>{rows}</tbody></table>'
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_html_cell(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        if not block.rows:
            return "<p><em>(no rows)</em></p>"
        head = "".join(f"<th>{html.escape(header)}</th>" for header in block.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_html_inline(cell)}</td>" for cell in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return (
        f'<figure><img src="data:image/png;base64,{html.escape(block.png_base64)}" '
        f'alt="{html.escape(block.alt)}" /><figcaption>{html.escape(block.alt)} '
        f"(<code>{html.escape(PER_GROUP_PLOT_PATH)}</code>)</figcaption></figure>"
    )


def render_html(facts: Mapping[str, Any]) -> str:
    """Render the model card as one self-contained HTML page (the per-group plot embedded as base64).

    Parameters
    ----------
    facts : dict
        What :func:`gather_facts` returned.

    Returns
    -------
    str
        A well-formed HTML5 document with inline CSS; every recorded string
        goes through ``html.escape``.
    """
    overview, sections = _document(facts)
    title = html.escape(_card_title(facts))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8" /><title>{title}</title><style>{_CSS}</style></head>',
        "<body><main>",
        f"<h1>{title}</h1>",
        *(_html_block(block) for block in overview),
        "<nav><ol>"
        + "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
        + "</ol></nav>",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
