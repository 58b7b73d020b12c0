"""The human report of the audit and leakage checks: one self-contained HTML page.

The same page serves ``fairgate check --report`` and the ``retrain`` run's
artifacts.  Per finding it says what was expected, what was found, on which
columns, and the evidence; then what could not be checked and why (the
notes); then the drift statistics and the table of expectations.  The
expectation part also exists as Great Expectations Data Docs, linked from
the page when they were built.  Nothing is fetched: styles are inline and
every value is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.findings import Finding
from pipelines.data.audit import AuditResult

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:75rem}
h1{font-size:1.5rem}.verdict{display:inline-block;padding:.3rem .8rem;border-radius:.3rem;color:#fff}
.pass{background:#2e7d32}.blocked{background:#c62828}.warn{color:#9a6700}.block{color:#c62828}
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{border:1px solid #ccc;padding:.3rem;
text-align:left;vertical-align:top}tr.failed{background:#fdecea}dl{margin:.2rem 0 1rem 1rem}
dt{font-weight:600}pre{background:#f6f8fa;padding:.4rem;overflow-x:auto;font-size:.8rem}
"""


@dataclass
class ReportPage:
    """What one report page shows.

    Attributes
    ----------
    title : str
        The page heading.
    verdict : str
        ``pass`` or ``blocked``.
    rows, columns : int
        The size of the data checked.
    findings : list of Finding
        Every finding, blocking or not.
    notes : list of str
        What was not checked and why, exclusions applied, where the reference came from.
    expectations : list of dict
        Rows of the expectation table (``check``, ``type``, ``columns``, ``success``,
        ``expected``, ``observed``).
    drift : list of dict
        Rows of the drift table (see :class:`pipelines.data.drift.DriftStatistic`).
    data_docs : str or None
        Relative link to the Great Expectations Data Docs of the expectation part.
    """

    title: str
    verdict: str
    rows: int
    columns: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    data_docs: str | None = None


def _finding_block(finding: Finding) -> list[str]:
    esc = html.escape
    expected, _, found = finding.message.partition("; found ")
    return [
        f'<h3 class="{esc(finding.severity)}">{esc(finding.severity)}: {esc(finding.check)}</h3><dl>',
        f"<dt>Expected</dt><dd>{esc(expected)}</dd>",
        f"<dt>Found</dt><dd>{esc(found)}</dd>",
        f"<dt>Columns</dt><dd>{esc(', '.join(finding.columns) or '(table)')}</dd>",
        f"<dt>Evidence</dt><dd><pre>{esc(json.dumps(finding.evidence, indent=1, default=str))}</pre></dd>",
        "</dl>",
    ]


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_html(page: ReportPage) -> str:
    """Return the report as one self-contained HTML document.

    Parameters
    ----------
    page : ReportPage
        What to show.

    Returns
    -------
    str
        The HTML.
    """
    esc = html.escape
    blocking = sum(1 for f in page.findings if f.severity == "block")
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(page.title)}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(page.title)}</h1>",
        f'<p><span class="verdict {esc(page.verdict)}">{esc(page.verdict.upper())}</span> '
        f"{blocking} blocking finding(s), {len(page.findings) - blocking} warning(s); "
        f"{page.rows} rows, {page.columns} columns, {len(page.expectations)} expectations.</p>",
    ]
    if page.data_docs:
        parts.append(
            f'<p>The expectation part as Great Expectations Data Docs: <a href="{esc(page.data_docs)}">'
            f"{esc(page.data_docs)}</a>.</p>"
        )
    if page.notes:
        parts.append("<h2>Notes: what was not checked, and why</h2><ul>")
        parts += [f"<li>{esc(note)}</li>" for note in page.notes]
        parts.append("</ul>")
    parts.append("<h2>Findings</h2>")
    if not page.findings:
        parts.append("<p>None.</p>")
    for finding in page.findings:
        parts += _finding_block(finding)
    if page.drift:
        parts.append(
            '<h2>Drift against the reference</h2><table class="drift"><thead><tr><th>column</th>'
            "<th>statistic</th><th>value</th><th>warn</th><th>block</th><th>noise</th><th>verdict</th>"
            "</tr></thead><tbody>"
        )
        for row in page.drift:
            css = "" if row["severity"] is None else ' class="failed"'
            parts.append(
                f"<tr{css}><td>{esc(row['column'])}</td><td>{esc(row['statistic'])}</td>"
                f"<td>{esc(_number(row['value']))}</td><td>{esc(_number(row['warn']))}</td>"
                f"<td>{esc(_number(row['block']))}</td><td>{esc(_number(row['noise']))}</td>"
                f"<td>{esc(row['severity'] or 'within bounds')}</td></tr>"
            )
        parts.append("</tbody></table>")
    if page.expectations:
        parts.append(
            '<h2>Expectations</h2><table class="expectations"><thead><tr><th>check</th><th>expectation</th>'
            "<th>columns</th><th>success</th><th>expected</th><th>observed</th></tr></thead><tbody>"
        )
        for row in page.expectations:
            css = "" if row["success"] else ' class="failed"'
            parts.append(
                f"<tr{css}><td>{esc(row['check'])}</td><td>{esc(row['type'])}</td>"
                f"<td>{esc(', '.join(row['columns']))}</td><td>{'yes' if row['success'] else 'NO'}</td>"
                f"<td>{esc(str(row['expected']))}</td><td>{esc(str(row['observed']))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """One line per finding, for a terminal: severity, check, columns, message."""
    lines = []
    for finding in findings:
        columns = ", ".join(finding.columns) if finding.columns else "(table)"
        lines.append(f"{finding.severity:<5} {finding.check} [{columns}]: {finding.message}")
    return lines


def audit_page(
    result: AuditResult, title: str = "fairgate data audit", data_docs_link: str | None = None
) -> ReportPage:
    """Return the report page of a data audit."""
    return ReportPage(
        title=title,
        verdict=result.report.verdict,
        rows=result.report.rows,
        columns=result.report.columns,
        findings=list(result.report.findings),
        notes=list(result.report.notes),
        expectations=list(result.expectations),
        drift=list(result.drift),
        data_docs=data_docs_link,
    )


def audit_report_html(result: AuditResult, data_docs_link: str | None = None) -> str:
    """Return the self-contained HTML report of a data audit.

    Parameters
    ----------
    result : AuditResult
        What :func:`pipelines.data.audit.audit_dataset` found.
    data_docs_link : str, optional
        Relative link to the Data Docs of the expectation part.

    Returns
    -------
    str
        The verdict, then each finding with what was expected, what was
        found and the columns involved, then the notes, the drift table
        and the table of expectations.
    """
    return render_html(audit_page(result, data_docs_link=data_docs_link))
