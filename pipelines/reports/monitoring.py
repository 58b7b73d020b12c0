"""The monitoring run's pictures and summary: per-group series over intervals, and a Markdown page.

matplotlib is imported inside the plotting function (never at module level)
and each figure gets its own Agg canvas, as in :mod:`pipelines.reports.plots`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

FAMILY_TITLES = {
    "drift": "Input drift against the champion's training data",
    "decisions": "Approval rate, overall and per group",
    "ethical": "Four-fifths (demographic parity) ratio of the decisions made",
    "shadow": "Shadow versus champion: share of decisions that differ",
    "technical": "Technical metrics",
    "business": "Business metrics",
}
_LEGEND_MAX = 24


def families(verdict: dict[str, Any]) -> list[str]:
    """The metric families measured in a verdict, in a fixed order."""
    found = {row["family"] for horizon in verdict["horizons"].values() for row in horizon["values"]}
    return [family for family in FAMILY_TITLES if family in found]


def series(history: list[dict[str, Any]], family: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Per ``horizon metric subject``: the (interval, value row) pairs of ``family`` across the verdicts."""
    lines: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for verdict in sorted(history, key=lambda v: v["interval"]):
        for name, horizon in verdict["horizons"].items():
            for row in horizon["values"]:
                if row["family"] == family:
                    label = f"{row['metric']} {row['subject']}" + ("" if name == "decision_time" else f" ({name})")
                    lines.setdefault(label, []).append((verdict["interval"], row))
    return lines


def plot_family(history: list[dict[str, Any]], family: str, path: Path) -> Path:
    """Draw one family's values over the intervals, one line per subject, bootstrap intervals shaded.

    The current limits (when all the family's values share them) are drawn as
    dashed lines: orange for ``warn``, red for ``critical``.

    Parameters
    ----------
    history
        The verdicts of every interval monitored so far (this one included).
    family
        ``drift``, ``decisions``, ``ethical`` or ``shadow`` (or another horizon's family).
    path
        Where to write the PNG; its folder must exist.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    # lazy: matplotlib costs about 0.4 s to import and only this plot needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lines = series(history, family)
    intervals = sorted({interval for points in lines.values() for interval, _ in points})
    position = {interval: i for i, interval in enumerate(intervals)}
    figure = Figure(figsize=(max(7.0, 0.9 * len(intervals) + 4.0), 5.0))
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for label, points in lines.items():
        xs = [position[interval] for interval, _ in points]
        ys = [_number(row["value"]) for _, row in points]
        drawn = axis.plot(xs, ys, marker="o", linewidth=1.2, label=label if len(lines) <= _LEGEND_MAX else None)
        lows = [_number(row["low"]) for _, row in points]
        highs = [_number(row["high"]) for _, row in points]
        if any(math.isfinite(v) for v in lows):
            colour = drawn[0].get_color()
            axis.fill_between(xs, lows, highs, alpha=0.15, color=colour, linewidth=0)
            spread = [
                [y - low for y, low in zip(ys, lows, strict=True)],
                [high - y for y, high in zip(ys, highs, strict=True)],
            ]
            axis.errorbar(xs, ys, yerr=spread, fmt="none", ecolor=colour, alpha=0.5, capsize=3)
    latest = [row for points in lines.values() for interval, row in points if interval == intervals[-1]]
    for limit, colour in (("warn", "orange"), ("critical", "red")):
        found = {row[limit] for row in latest if row[limit] is not None}
        if len(found) == 1:
            axis.axhline(found.pop(), color=colour, linestyle="--", linewidth=1, label=limit)
    axis.set_xticks(range(len(intervals)), intervals, rotation=45, ha="right")
    axis.set_title(FAMILY_TITLES.get(family, family))
    axis.set_xlabel("interval")
    axis.grid(alpha=0.3)
    if lines:
        axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _shown(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.4g}"


def summary_markdown(verdict: dict[str, Any]) -> str:
    """The run's Markdown summary: the verdict first, then every breach, every value and the notes."""
    shadows = ", ".join(f"v{s['model_version']}" for s in verdict["shadows"]) or "none"
    lines = [
        f"# Monitoring {verdict['interval']}: champion v{verdict['model_version']}: {verdict['verdict'].upper()}",
        "",
        f"- model: `{verdict['model_name']}` version {verdict['model_version']} (digest `{verdict['model_digest']}`)",
        f"- decisions: `{verdict['decisions_file']}` (scoring audit entry {verdict['scoring_audit_seq']})",
        f"- shadows: {shadows}",
        f"- applications' data hash: `{verdict['data_hash']}`",
        "",
    ]
    alerts = verdict.get("alerts")
    if alerts:
        lines += [
            f"**Alerts**: {alerts['summary']}; action: **{alerts['action']}**"
            + ("" if alerts.get("alert_seq") is None else f" (audit entry {alerts['alert_seq']})"),
            "",
        ]
        if alerts.get("rollback"):
            move = alerts["rollback"]
            lines += [
                f"champion moved from version {move.get('from_version')} to version {move.get('to_version')} "
                f"by {move.get('actor')}",
                "",
            ]
        lines += [f"- {line}" for line in alerts.get("evidence") or []] + [""]
    for name, horizon in verdict["horizons"].items():
        lines += [f"## {name}: {horizon['verdict']} (interval {horizon['interval']})", ""]
        breaches = [row for row in horizon["values"] if row["level"] in ("warn", "critical")]
        lines += [
            "| level | family | metric | subject | value | interval | warn | critical |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in sorted(breaches, key=lambda r: r["level"] != "critical") or []:
            lines.append(_row(row))
        if not breaches:
            lines.append("| ok | | no value beyond its warning limit | | | | | |")
        lines += [
            "",
            "<details><summary>every value</summary>",
            "",
            "| level | family | metric | subject | value | interval | warn | critical |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [_row(row) for row in horizon["values"]]
        lines += ["", "</details>", ""]
        if horizon["notes"]:
            lines += ["Notes:", ""] + [f"- {note}" for note in horizon["notes"]] + [""]
    return "\n".join(lines)


def _row(row: dict[str, Any]) -> str:
    interval = f"[{_shown(row['low'])}, {_shown(row['high'])}]" if row["low"] is not None else "none"
    return (
        f"| {row['level'] or '-'} | {row['family']} | {row['metric']} | {row['subject']} | {_shown(row['value'])} "
        f"| {interval} | {_shown(row['warn'])} | {_shown(row['critical'])} |"
    )
