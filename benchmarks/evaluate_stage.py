"""The retrain DAG's evaluate stage alone, on a prepared project: its seconds, and its output for the equality check.

Usage::

    python -m benchmarks.evaluate_stage prepare DIR --rows-per-month 15385   # 200k rows (76923: 1M)
    python -m benchmarks.evaluate_stage measure DIR --out FILE.json
    python -m benchmarks.evaluate_stage compare OLD.json NEW.json

``prepare`` builds a project in ``DIR`` (git, DVC with a local remote, the
repository's ``fairgate.yaml`` with ``generator.rows_per_month`` changed) and
runs the real stages, in process: a first run to promotion (the champion),
then a second run up to and including train.  Its state is saved as
``DIR/before-evaluate.json``.  ``measure`` runs
:func:`pipelines.flows.retrain.evaluate` on that state (the stage is
re-runnable: it rewrites the run's evaluation files and logs its metrics
again), prints the stage's own seconds and copies what it wrote
(``evaluation.json`` and ``mitigation_cost.json``) to ``--out``.  ``compare``
says which values of two such outputs differ: every number outside latency
must be equal to the last digit, except the intervals of the mitigation's
cost, which the shared resamples give (documented in
``docs/evaluation-and-gate.md``).  Time ``measure`` from outside as a whole
process, medians of three (``/usr/bin/time -v`` does); nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STATE_FILE = "before-evaluate.json"


def _project(root: Path, rows_per_month: int) -> None:
    """A fresh project: git, DVC (local remote, no analytics), the repository's configuration at this size."""
    import yaml

    root.mkdir(parents=True, exist_ok=False)
    run = {"cwd": root, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], **run)
    subprocess.run([sys.executable, "-m", "dvc", "remote", "add", "-d", "local", str(root / ".remote")], **run)
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["generator"]["rows_per_month"] = rows_per_month
    (root / "fairgate.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def prepare(root: Path, rows_per_month: int) -> None:
    """A champion from a first run, then a second run through train; its state saved for ``measure``."""
    _project(root, rows_per_month)
    os.environ["FAIRGATE_HOME"] = str(root)
    from pipelines.flows import champion
    from pipelines.flows import retrain as stages

    first = stages.run_reference("manual__champion", "retrain", "2026-01", {}, "bench:evaluate")
    for stage in (stages.ingest, stages.audit, stages.leakage, stages.split, stages.train, stages.evaluate,
                  stages.gate, stages.register):
        first = stage(first)
    champion.promote(first)
    second = stages.run_reference("manual__candidate", "retrain", "2026-02", {}, "bench:evaluate")
    for stage in (stages.ingest, stages.audit, stages.leakage, stages.split, stages.train):
        second = stage(second)
    (root / STATE_FILE).write_text(json.dumps(second), encoding="utf-8")


def measure(root: Path, out: Path) -> None:
    """Run the evaluate stage on the saved state; print its seconds; copy its evaluation files to ``out``."""
    os.environ["FAIRGATE_HOME"] = str(root)
    from pipelines.flows import retrain as stages

    state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    started = time.perf_counter()
    evaluated = stages.evaluate(state)
    seconds = time.perf_counter() - started
    folder = Path(evaluated["evaluated"]["evaluation_file"]).parent
    files = {name: json.loads((folder / name).read_text(encoding="utf-8"))
             for name in ("evaluation.json", "mitigation_cost.json") if (folder / name).is_file()}
    out.write_text(json.dumps({"seconds": seconds, **files}), encoding="utf-8")
    sys.stdout.write(f"evaluate stage {seconds:.2f} s\n")


def _leaves(node: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(node, dict):
        found: dict[tuple[str, ...], Any] = {}
        for key, value in node.items():
            found.update(_leaves(value, (*path, str(key))))
        return found
    if isinstance(node, list):
        found = {}
        for i, value in enumerate(node):
            found.update(_leaves(value, (*path, str(i))))
        return found
    return {path: node}


def _timing(path: tuple[str, ...]) -> bool:
    """A wall-clock measurement (latency), which no two runs reproduce."""
    return any(part.startswith("latency_ms") for part in path) or "seconds" in path


def _without_latency_rows(measured: dict[str, Any]) -> dict[str, Any]:
    """The output without the mitigation cost's latency rows (timings)."""
    cost = measured.get("mitigation_cost.json")
    if cost is not None:
        rows = [row for row in cost["rows"] if ".latency_ms" not in row["metric"]]
        measured = {**measured, "mitigation_cost.json": {**cost, "rows": rows}}
    return measured


def compare(old: Path, new: Path) -> int:
    """Print the paths whose values differ, by kind; return 0 when only the expected ones do."""
    a = _leaves(_without_latency_rows(json.loads(old.read_text(encoding="utf-8"))))
    b = _leaves(_without_latency_rows(json.loads(new.read_text(encoding="utf-8"))))
    unexpected, interval_changes, equal = [], 0, 0
    for path in sorted(set(a) | set(b)):
        if _timing(path):
            continue
        x, y = a.get(path, "<missing>"), b.get(path, "<missing>")
        same = x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        if same:
            equal += 1
        elif path[0] == "mitigation_cost.json" and path[-1] in ("ci_low", "ci_high"):
            interval_changes += 1
        else:
            unexpected.append(f"{'.'.join(path)}: {x!r} != {y!r}")
    sys.stdout.write(f"{equal} values equal to the last digit (latency excepted); "
                     f"{interval_changes} mitigation-cost interval bounds from the shared resamples; "
                     f"{len(unexpected)} other differences\n")
    for line in unexpected[:40]:
        sys.stdout.write(f"  {line}\n")
    return 1 if unexpected else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("prepare", "measure", "compare"))
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--rows-per-month", type=int, default=15385)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.action == "prepare":
        prepare(args.paths[0], args.rows_per_month)
    elif args.action == "measure":
        measure(args.paths[0], args.out or args.paths[0] / "measured.json")
    else:
        return compare(args.paths[0], args.paths[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
