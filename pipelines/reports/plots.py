"""Plots for people: the per-group picture of an evaluation result, as a PNG for MLflow and reports.

matplotlib is imported inside each function, never at module level, and no
plot touches ``matplotlib.pyplot`` or the global backend: each figure gets its
own Agg canvas.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.model.evaluation_tables import per_group_table


def plot_per_group(result: dict[str, Any], path: Path, champion: dict[str, Any] | None = None) -> Path:
    """Draw approval rate, TPR and FPR per group with their intervals, one panel per attribute, as PNG.

    The Agg canvas is attached to this figure only (no pyplot, no global backend
    switch).  An undefined TPR or FPR is drawn as no bar with an ``n/a`` label;
    error bars are the bootstrap intervals; with a champion, its approval rate per
    group is drawn as a black marker for comparison.

    Parameters
    ----------
    result : dict
        The candidate's result.
    path : pathlib.Path
        Where to write the PNG; its folder must exist.
    champion : dict, optional
        The champion's result on the same holdout.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    # lazy: matplotlib costs about 0.4 s to import and only this plot needs it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = per_group_table(result)
    champion_table = per_group_table(champion) if champion is not None else None
    attributes = list(result["ethical"])
    widest = int(table.groupby("attribute").size().max())
    figure = Figure(figsize=(max(7.0, 1.6 * widest + 2.0), 3.6 * len(attributes)))
    FigureCanvasAgg(figure)
    axes = figure.subplots(nrows=len(attributes), ncols=1, squeeze=False)[:, 0]
    series = (
        ("approval_rate", "approval rate"),
        ("tpr", "TPR (truly good approved)"),
        ("fpr", "FPR (truly bad approved)"),
    )
    width = 0.8 / len(series)
    for axis, attribute in zip(axes, attributes, strict=True):
        rows = table[table["attribute"] == attribute].reset_index(drop=True)
        positions = np.arange(len(rows))
        for offset, (column, label) in enumerate(series):
            values = rows[column].to_numpy(dtype=float)
            low = rows[f"{column}_ci_low"].to_numpy(dtype=float)
            high = rows[f"{column}_ci_high"].to_numpy(dtype=float)
            errors = np.vstack([np.nan_to_num(values - low, nan=0.0), np.nan_to_num(high - values, nan=0.0)])
            x = positions + (offset - (len(series) - 1) / 2) * width
            axis.bar(x, np.nan_to_num(values, nan=0.0), width=width, label=label, yerr=errors, capsize=2)
            for xi, value in zip(x, values, strict=True):
                if math.isnan(value):
                    axis.text(xi, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        if champion_table is not None:
            theirs = champion_table[champion_table["attribute"] == attribute].set_index("group")
            marks = [theirs["approval_rate"].get(g, math.nan) for g in rows["group"]]
            axis.plot(
                positions - (len(series) - 1) / 2 * width, marks, "k_", markersize=14, mew=2,
                label="champion approval rate",
            )
        ticks = [f"{g}\n(n={n})" for g, n in zip(rows["group"], rows["rows"], strict=True)]
        axis.set_xticks(positions, ticks)
        axis.set_ylim(0.0, 1.05)
        axis.set_ylabel("rate")
        ratio = result["ethical"][attribute]["demographic_parity_ratio"]
        shown = "n/a" if ratio is None else f"{ratio:.3f}"
        bounds = (result.get("intervals") or {}).get("ethical", {}).get(attribute, {}).get("demographic_parity_ratio")
        if ratio is not None and bounds and bounds.get("low") is not None:
            level = result.get("bootstrap", {}).get("confidence", 0.95)
            shown += f", {level * 100:g}% interval {bounds['low']:.3f} to {bounds['high']:.3f}"
        axis.set_title(f"{attribute}: approvals by group (demographic parity ratio {shown})", fontsize=10)
        axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
