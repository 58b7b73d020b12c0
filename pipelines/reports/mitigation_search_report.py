"""The mitigation search for people: the options table, the trade-off plot, and the conflict in words.

Reads :meth:`pipelines.governance.mitigation_search.SearchResult.to_dict`.
Numbers are rounded only here, for reading; the JSON keeps every digit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

TABLE_METRICS = (
    "technical.roc_auc",
    "technical.accuracy",
    "technical.balanced_accuracy",
    "business.expected_cost",
    "business.approval_rate",
)
PLOT_ETHICAL = ("demographic_parity_difference", "equalized_odds_difference")
THEORY = (
    "When base rates differ between groups, demographic parity (equal approval rates) and equalized odds "
    "(equal approval rates among the truly good and among the truly bad) cannot both hold, except for a "
    "classifier that decides the same for everyone or one that is perfectly accurate; and at low approval "
    "rates the four-fifths ratio is tighter than a bound on the difference. Choose the criterion that fits "
    "the decision (README, \"Choosing the fairness checks\"; docs/mitigation.md) and gate on it."
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _worst(metrics: dict[str, Any], name: str) -> float | None:
    """The largest value of an ethical disparity over the sensitive attributes (None when undefined)."""
    values = [v for k, v in metrics.items() if k.startswith("ethical.") and k.endswith(f".{name}")
              and k.count(".") == 2]
    if not values or any(v is None for v in values):
        return None
    return float(max(values))


def _ethical_columns(search: dict[str, Any]) -> list[str]:
    """Every overall ethical metric the options have (per attribute)."""
    first = search["options"][0]["metrics"]
    return [k for k in first if k.startswith("ethical.") and k.count(".") == 2]


def options_frame(search: dict[str, Any]) -> pd.DataFrame:
    """One row per option: verdict, failed checks and every overall metric (full precision)."""
    rows = []
    for index, outcome in enumerate(search["options"]):
        rows.append(
            {
                "option": outcome["label"],
                "kept": index == search["chosen"],
                "validation_gate": "passed" if outcome["passed"] else "failed",
                "failed_checks": "; ".join(outcome["failed_checks"]),
                **outcome["metrics"],
            }
        )
    return pd.DataFrame(rows)


def options_markdown(search: dict[str, Any]) -> str:
    """The options as a Markdown table (rounded for reading)."""
    ethical = _ethical_columns(search)
    columns = [*TABLE_METRICS, *ethical]
    short = [c.split(".", 1)[1] for c in columns]
    lines = [
        "| option | validation gate | " + " | ".join(short) + " | failed checks |",
        "| --- | --- | " + " | ".join("---:" for _ in columns) + " | --- |",
    ]
    for index, outcome in enumerate(search["options"]):
        kept = " (kept)" if index == search["chosen"] else ""
        cells = [_fmt(outcome["metrics"].get(c)) for c in columns]
        failed = "; ".join(outcome["failed_checks"]) or "none"
        verdict = "passed" if outcome["passed"] else "**failed**"
        lines.append(f"| {outcome['label']}{kept} | {verdict} | " + " | ".join(cells) + f" | {failed} |")
    return "\n".join(lines)


def base_rate_lines(search: dict[str, Any]) -> list[str]:
    """Each group's base rate on the training window, per attribute, with the largest ratio."""
    lines = []
    for attribute, groups in search["base_rates"].items():
        rates = {group: facts["base_rate"] for group, facts in groups.items()}
        described = ", ".join(
            f"{group} {rate:.4f} ({groups[group]['rows']} rows)" for group, rate in rates.items()
        )
        low, high = min(rates.values()), max(rates.values())
        ratio = f"; the highest is {high / low:.2f} times the lowest" if low > 0 and len(rates) > 1 else ""
        lines.append(f"- {attribute}, share of {search['base_rate_of']} per group: {described}{ratio}")
    return lines


def _labels(labels: list[str]) -> str:
    return ", ".join(f"`{label}`" for label in labels)


def conflict_lines(search: dict[str, Any]) -> list[str]:
    """Which ethical checks no option met together, in sentences (empty when an option passed)."""
    conflict = search.get("conflict")
    if not conflict:
        return []
    lines = []
    for first, second, meeting_first, meeting_second in conflict["pairs"]:
        lines.append(
            f"- `{first}` and `{second}` conflict on this data: no option met both "
            f"(the first met by {_labels(meeting_first)}; the second by {_labels(meeting_second)})"
        )
    for name in conflict["never_met"]:
        lines.append(f"- `{name}`: no option met it")
    for label in conflict["technical_only"]:
        lines.append(f"- `{label}` met every ethical check but failed a technical or business one")
    if not lines:
        lines.append("- every ethical check was met by some option, but no option met all of them together")
    return lines


def search_markdown(search: dict[str, Any]) -> str:
    """The whole search for a reviewer: how it was run, the options, the kept one, and any conflict."""
    validation = search["validation"]
    kept = search["options"][search["chosen"]]["label"]
    lines = [
        "# Mitigation search",
        "",
        f"Validation split: {validation['rows']} rows, {validation['how']}; options fitted on the other "
        f"{validation['fitting_rows']} rows. The holdout the gate uses was not seen.",
        f"Ranking among the options that pass every absolute gate check there: {search['ranking']}.",
        *[f"Note: {note}." for note in search["notes"]],
        "",
        options_markdown(search),
        "",
    ]
    if search["any_passed"]:
        lines.append(f"Kept: **{kept}**, refitted on the whole training window.")
    else:
        lines += [
            f"**No option passed every gate check on the validation split.** Kept for the gate to judge: "
            f"{kept} (fewest failed checks).",
            "",
            *conflict_lines(search),
            "",
            "Base rates on the training window:",
            "",
            *base_rate_lines(search),
            "",
            THEORY,
        ]
    return "\n".join(lines) + "\n"


def gate_report_section(search: dict[str, Any]) -> str:
    """The gate report's part on the search: the trade-off, and the conflict when no option passed."""
    if search["any_passed"]:
        head = (
            f"The search kept {search['options'][search['chosen']]['label']}, which passed every absolute "
            "check on the validation split; the checks above are on the holdout."
        )
        return "\n\n## Mitigation search (validation split)\n\n" + head + "\n\n" + options_markdown(search) + "\n"
    lines = [
        "",
        "## Why no mitigation could pass: the ethical checks conflict on this data",
        "",
        "The mitigation search fitted every option listed in `training.mitigation.search` and none passed "
        "every gate check on the validation split (carved from the training window):",
        "",
        *conflict_lines(search),
        "",
        "Each group's base rate on the training window:",
        "",
        *base_rate_lines(search),
        "",
        THEORY,
        "",
        "The trade-off (validation split):",
        "",
        options_markdown(search),
    ]
    return "\n" + "\n".join(lines) + "\n"


def blocked_reason(search: dict[str, Any]) -> str | None:
    """One line for the blocked reasons when no option passed (None when one did)."""
    if search["any_passed"]:
        return None
    conflict = search["conflict"]
    parts = [f"{a} vs {b}" for a, b, _, _ in conflict["pairs"]]
    parts += [f"{name} met by no option" for name in conflict["never_met"]]
    rates = "; ".join(
        f"{attribute}: " + ", ".join(f"{g} {f['base_rate']:.3f}" for g, f in groups.items())
        for attribute, groups in search["base_rates"].items()
    )
    return (
        f"mitigation search: none of {len(search['options'])} options passed the gate on the validation split "
        f"(conflicting checks: {', '.join(parts) or 'no option met all ethical checks together'}; "
        f"base rates {rates}); see the gate report"
    )


def plot_trade_off(search: dict[str, Any], gate_ethical: dict[str, Any], path: Path) -> Path:
    """Accuracy against each disparity, one point per option; filled when it passed, dashed line at the bound."""
    # lazy: matplotlib costs about 0.4 s to import and only this plot needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(PLOT_ETHICAL), sharey=True)
    for axis, name in zip(axes, PLOT_ETHICAL, strict=True):
        for index, outcome in enumerate(search["options"]):
            x = _worst(outcome["metrics"], name)
            y = outcome["metrics"].get("technical.accuracy")
            if x is None or y is None:
                continue
            axis.scatter(
                [x], [y], s=70 if index == search["chosen"] else 40,
                facecolors="tab:green" if outcome["passed"] else "none",
                edgecolors="tab:green" if outcome["passed"] else "tab:red",
            )
            axis.annotate(outcome["label"], (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
        bound = gate_ethical.get(name)
        if bound is not None and bound.get("max") is not None:
            axis.axvline(bound["max"], linestyle="--", color="grey", label=f"gate max {bound['max']}")
            axis.legend(fontsize=7)
        axis.set_xlabel(f"{name} (worst attribute, validation)")
    axes[0].set_ylabel("accuracy (validation)")
    figure.suptitle("Mitigation options: accuracy against fairness (filled: passed every gate check)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def write_search_files(search: dict[str, Any], gate_ethical: dict[str, Any], folder: Path) -> list[Path]:
    """Write the search's table (CSV and Markdown) and its trade-off plot; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "mitigation_search.csv"
    options_frame(search).to_csv(table, index=False)
    report = folder / "mitigation_search.md"
    report.write_text(search_markdown(search), encoding="utf-8")
    plot = plot_trade_off(search, gate_ethical, folder / "mitigation_search.png")
    return [table, report, plot]
