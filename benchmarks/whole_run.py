"""The whole governed ``fairgate run`` against a bare fit-and-predict script, per mitigation, at growing sizes.

Usage: ``python -m benchmarks.whole_run [--rows-per-month 7692 76923] [--repeats 3]
[--mitigations exponentiated_gradient none] [--no-warmup] [--scale-rows-per-month 384615]
[--markdown FILE] [--json FILE]``.

For each size (``generator.rows_per_month``; 13 months of data: 7692 is about
100k rows, 76923 about 1M, 384615 about 5M) a temporary project is made the
way the tests make one (``tests/conftest.py`` ``make_project``: git, DVC with
a local remote, the repository's fairgate.yaml), never the user's stores.  A
first ``fairgate run --interval 2026-01`` gives it a champion (``--no-warmup``
skips it); then, ``--repeats`` times and the mitigations in turn, the same
interval is run again (``--force``: same data, steady state with a champion),
each governed run followed at once by the bare script
(:mod:`benchmarks.bare_fit`) on the same accepted batches.  Both are whole
processes launched from here; for each the wall and CPU seconds of its
process tree (``os.wait4``) and the peak of the summed resident memory of the
tree (sampled with psutil) are recorded.

Per governed run it also reads where the time went: each stage's seconds as
fairgate records them (``var/runs/<run>/stages/``) and as Airflow records its
task (the task instance's start and end in the project's metadata database),
and the fixed costs: the CLI before it starts Airflow, Airflow's start-up
before the first task, the ``run_reference`` task, Airflow between and after
the tasks, the CLI after Airflow exits.

Then, untimed, the registered candidate of each governed run is loaded from
the registry and its ``predict_proba`` on the holdout compared bit for bit
with the bare script's (the same inputs, the same class weights, the same
seed and, with exponentiated gradient, the same costs and constraint).  A
difference is printed as DIFFERENT and the command exits 1 after its report.

Last, ``--scale-rows-per-month`` runs one size once, cold, with mitigation
none, and sets its peak memory against the data's size in memory.

It prints a Markdown report (``--markdown`` also writes it to a file,
``--json`` the measurements) and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
INTERVAL = "2026-01"
MITIGATIONS = ("exponentiated_gradient", "none")
MONTHS = 13  # the committed history (12 months) and the interval's batch
TASKS = ("run_reference", "ingest", "audit", "leakage", "split", "train", "evaluate", "gate", "register", "promote")
FIXED_COSTS = (
    ("cli_before_airflow", "CLI before it starts Airflow"),
    ("airflow_before_first_task", "Airflow start-up before the first task"),
    ("run_reference_task", "the `run_reference` task"),
    ("between_tasks", "Airflow between tasks"),
    ("airflow_after_last_task", "Airflow after the last task"),
    ("cli_after_airflow", "CLI after Airflow exits"),
    ("before_first_task", "**before the first task** (launch to `run_reference` start)"),
    ("outside_dag", "**outside the DAG** (wall minus first task start to last task end)"),
)
MIB = 1024 * 1024
_RUN_ID = re.compile(r"^fairgate retrain  run (\S+)$", re.MULTILINE)
_OUTCOME = re.compile(r"^outcome: (.+?)   champion", re.MULTILINE)


# ------------------------------------------------------------------ one process tree, measured


class TreeSampler(threading.Thread):
    """Sample the summed resident memory of a process and its descendants; note when Airflow's child runs."""

    def __init__(self, pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_bytes = 0
        self.airflow_started: float | None = None  # epoch seconds
        self.airflow_ended: float | None = None
        self._airflow_pid: int | None = None
        self._commands: dict[int, bool] = {}
        self._finished = threading.Event()

    def _is_airflow(self, process: Any) -> bool:
        if process.pid not in self._commands:
            command = process.cmdline()
            self._commands[process.pid] = "dags" in command and "test" in command
        return self._commands[process.pid]

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total, airflow_seen = 0, False
        for process in processes:
            try:
                total += process.memory_info().rss
                if self._airflow_pid is None and process is not root and self._is_airflow(process):
                    self._airflow_pid, self.airflow_started = process.pid, process.create_time()
                airflow_seen = airflow_seen or process.pid == self._airflow_pid
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
        self.peak_bytes = max(self.peak_bytes, total)
        if self._airflow_pid is not None and not airflow_seen and self.airflow_ended is None:
            self.airflow_ended = time.time()

    def run(self) -> None:
        while not self._finished.is_set():
            self.sample()
            self._finished.wait(self.every)

    def stop(self, exited: float) -> None:
        """Stop sampling; the root process ended at ``exited`` (epoch seconds), and Airflow's child by then."""
        self._finished.set()
        self.join()
        if self.airflow_started is not None and self.airflow_ended is None:
            # both ended between two samples: the child's end is known to the sampling interval only
            self.airflow_ended = exited


def run_process(argv: list[str], cwd: Path, env: dict[str, str], log: Path, every: float) -> dict[str, Any]:
    """Run ``argv`` to its end; its wall and CPU seconds, peak tree memory, output and Airflow child's times."""
    load_before = os.getloadavg()[0]
    launched = time.time()
    clock = time.perf_counter()
    with log.open("w", encoding="utf-8") as handle:
        child = subprocess.Popen(argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    sampler = TreeSampler(child.pid, every)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)  # CPU of the whole tree: every descendant was waited for
    wall = time.perf_counter() - clock
    exited = time.time()
    sampler.stop(exited)
    child.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": wall,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_tree_mib": sampler.peak_bytes / MIB,
        "largest_process_mib": usage.ru_maxrss / 1024.0,
        "exit_code": child.returncode,
        "launched_at": launched,
        "exited_at": exited,
        "airflow_started_at": sampler.airflow_started,
        "airflow_ended_at": sampler.airflow_ended,
        "load_average": [load_before, os.getloadavg()[0]],
        "output": log.read_text(encoding="utf-8", errors="replace"),
    }


# ------------------------------------------------------------------ the project and its runs


def _environment(project: Path) -> dict[str, str]:
    """The caller's environment without anything pointing at the user's stores; the project as FAIRGATE_HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "AIRFLOW", "DVC_"))
           and k not in ("FAIRGATE_HOME", "FAIRGATE_AUDIT_LOG_URL", "FAIRGATE_AUDIT_KEY")}
    env["FAIRGATE_HOME"] = str(project)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def make_bench_project(root: Path, rows_per_month: int) -> Path:
    """A fresh project as ``tests/conftest.py`` makes one, with ``rows_per_month`` generated rows a month."""
    loaded = sys.modules.get("conftest")
    if loaded is not None and Path(str(getattr(loaded, "__file__", ""))).resolve() == REPO / "tests" / "conftest.py":
        # inside the test session: its own project template, and no second session folder left behind
        make_project = loaded.make_project
    else:
        sys.path.insert(0, str(REPO))
        from tests.conftest import make_project
    return make_project(root, **{"generator.rows_per_month": rows_per_month})


def set_mitigation(project: Path, method: str) -> None:
    """Edit the project's fairgate.yaml: ``training.mitigation.method``."""
    config_file = project / "fairgate.yaml"
    raw = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    raw["training"]["mitigation"]["method"] = method
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def _parse_time(value: Any) -> float | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def airflow_task_times(project: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """Each task of the Airflow run: its start and end (epoch seconds), from the project's metadata database."""
    from pipelines.core.project import ProjectPaths

    database = ProjectPaths(project).airflow_home / "airflow.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT task_id, start_date, end_date FROM task_instance WHERE dag_id = 'retrain' AND run_id = ?",
            (run_id,),
        ).fetchall()
    times = {task: (_parse_time(start), _parse_time(end)) for task, start, end in rows}
    return {task: (start, end) for task, (start, end) in times.items() if start is not None and end is not None}


def governed_run(project: Path, log: Path, every: float) -> dict[str, Any]:
    """One ``fairgate run --force`` of the interval: timings, stages, fixed costs, verdicts, key metrics."""
    from pipelines.core.project import ProjectPaths
    from pipelines.flows.run_summary import read_stage_records

    argv = [sys.executable, "-m", "pipelines.flows.cli", "run", "--interval", INTERVAL, "--force"]
    measured = run_process(argv, project, _environment(project), log, every)
    found = _RUN_ID.search(measured["output"])
    if found is None or measured["exit_code"] not in (0, 1):
        raise SystemExit(f"fairgate run did not reach a verdict (exit {measured['exit_code']}); see {log}:\n"
                         + measured["output"][-3000:])
    run_id = found.group(1)
    records = {r["stage"]: r for r in read_stage_records(ProjectPaths(project), run_id)}
    tasks = airflow_task_times(project, run_id)
    missing = [t for t in TASKS if t not in tasks]
    if missing or "register" not in records:
        raise SystemExit(f"run {run_id} did not run every task (missing {missing}); see {log}")
    outcome = _OUTCOME.search(measured["output"])
    measured.update({
        "run_id": run_id,
        "outcome": outcome.group(1) if outcome else "?",
        "stages": {
            task: {"airflow_seconds": tasks[task][1] - tasks[task][0],
                   "fairgate_seconds": records.get(task, {}).get("seconds"),
                   "verdict": records.get(task, {}).get("verdict")}
            for task in TASKS
        },
        "fixed": fixed_costs(measured, tasks),
        "rows": records["split"]["details"]["train_rows"] + records["split"]["details"]["holdout_rows"],
        "version": str(records["register"]["details"]["version"]),
        "gate": {k: records["gate"]["details"].get(k) for k in ("technical", "ethical")},
        "key_metrics": {k: repr(v) for k, v in records["evaluate"]["details"].get("key_metrics", {}).items()},
    })
    return measured


def fixed_costs(measured: dict[str, Any], tasks: dict[str, tuple[float, float]]) -> dict[str, float | None]:
    """Where the time outside the stages goes (seconds); None where the Airflow child was not seen."""
    first = min(start for start, _ in tasks.values())
    last = max(end for _, end in tasks.values())
    busy = sum(end - start for start, end in tasks.values())
    launched, exited = measured["launched_at"], measured["exited_at"]
    started, ended = measured["airflow_started_at"], measured["airflow_ended_at"]
    return {
        "cli_before_airflow": None if started is None else started - launched,
        "airflow_before_first_task": None if started is None else first - started,
        "run_reference_task": tasks["run_reference"][1] - tasks["run_reference"][0],
        "between_tasks": (last - first) - busy,
        "airflow_after_last_task": None if ended is None else ended - last,
        "cli_after_airflow": None if ended is None else exited - ended,
        "before_first_task": first - launched,
        "outside_dag": measured["seconds"] - (last - first),
    }


def bare_run(project: Path, work: Path, every: float) -> dict[str, Any]:
    """The bare script as a whole process on the project's accepted data; its P(positive) in ``work``."""
    output = work / "bare_p_positive.npy"
    argv = [sys.executable, "-m", "benchmarks.bare_fit", str(project), str(output)]
    env = {**_environment(project), "PYTHONPATH": str(REPO)}
    measured = run_process(argv, REPO, env, work / "bare.log", every)
    lines = [line for line in measured["output"].splitlines() if line.startswith("BARE ")]
    if measured["exit_code"] != 0 or not lines:
        raise SystemExit(f"the bare script failed (exit {measured['exit_code']}):\n{measured['output'][-3000:]}")
    measured["steps"] = json.loads(lines[-1][5:])
    measured["p_positive_file"] = str(output)
    return measured


def check_outputs(project: Path, bare_output: str, version: str) -> dict[str, Any]:
    """The registered ``version``'s holdout P(positive) against the bare script's (see :mod:`benchmarks.bare_fit`)."""
    argv = [sys.executable, "-m", "benchmarks.bare_fit", "--check", str(project), bare_output, version]
    env = {**_environment(project), "PYTHONPATH": str(REPO)}
    completed = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("CHECK ")]
    if completed.returncode != 0 or not lines:
        raise SystemExit(f"the output check failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1][6:])


def measure_size(
    root: Path, rows_per_month: int, mitigations: tuple[str, ...], repeats: int, warmup: bool, every: float,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every measured run of one size: a project, an optional warm-up, the mitigations in turn, ``repeats`` times."""
    project = make_bench_project(root / "project", rows_per_month)
    logs = root / "logs"
    logs.mkdir()
    size: dict[str, Any] = {"rows_per_month": rows_per_month, "warmup": None, "runs": {m: [] for m in mitigations}}
    if warmup:
        set_mitigation(project, "exponentiated_gradient")
        size["warmup"] = governed_run(project, logs / "warmup.log", every)
        size["warmup"].pop("output")
        say(f"  warm-up (first run, no champion): {size['warmup']['seconds']:.1f} s, {size['warmup']['outcome']}")
    for repeat in range(repeats):
        for mitigation in mitigations:
            set_mitigation(project, mitigation)
            work = logs / f"{mitigation}-{repeat}"
            work.mkdir()
            governed = governed_run(project, work / "governed.log", every)
            bare = bare_run(project, work, every)
            check = check_outputs(project, bare["p_positive_file"], governed["version"])
            governed.pop("output")
            bare.pop("output")
            run = {"governed": governed, "bare": bare, "check": check, "ratio": governed["seconds"] / bare["seconds"]}
            size["runs"][mitigation].append(run)
            same = "bit-identical" if check["bit_identical"] else f"DIFFERENT by {check['max_abs_difference']}"
            say(f"  {mitigation} #{repeat + 1}: governed {governed['seconds']:.1f} s, bare {bare['seconds']:.1f} s, "
                f"{run['ratio']:.2f}x, {governed['outcome']}; holdout P(positive) {same}")
    return size


# ------------------------------------------------------------------ the report


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _s(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _outputs_of(key_metrics: dict[str, str]) -> dict[str, str]:
    """The key metrics that are outputs of the data and the model: the latency percentiles are timings."""
    return {name: value for name, value in key_metrics.items() if "latency" not in name}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats of one mitigation at one size, and whether every repeat gave the same outputs."""
    governed = [r["governed"] for r in runs]
    first = governed[0]
    outputs = [(g["gate"], _outputs_of(g["key_metrics"]), r["check"]["governed_sha256"])
               for g, r in zip(governed, runs, strict=True)]
    same_outputs = all(output == outputs[0] for output in outputs)
    return {
        "repeats": len(runs),
        "rows": first["rows"],
        "governed_seconds": _median([g["seconds"] for g in governed]),
        "governed_cpu_seconds": _median([g["cpu_seconds"] for g in governed]),
        "bare_seconds": _median([r["bare"]["seconds"] for r in runs]),
        "bare_cpu_seconds": _median([r["bare"]["cpu_seconds"] for r in runs]),
        "ratio": _median([r["ratio"] for r in runs]),
        "ratio_range": [min(r["ratio"] for r in runs), max(r["ratio"] for r in runs)],
        "governed_peak_mib": _median([g["peak_tree_mib"] for g in governed]),
        "bare_peak_mib": _median([r["bare"]["peak_tree_mib"] for r in runs]),
        "stages": {
            task: {kind: _median([g["stages"][task][kind] for g in governed])
                   for kind in ("fairgate_seconds", "airflow_seconds")}
            for task in TASKS
        },
        "fixed": {key: _median([g["fixed"][key] for g in governed]) for key, _ in FIXED_COSTS},
        "bare_steps": {k: _median([r["bare"]["steps"][k] for r in runs]) for k in runs[0]["bare"]["steps"]},
        "bit_identical": all(r["check"]["bit_identical"] for r in runs),
        "max_abs_difference": max((r["check"]["max_abs_difference"] or 0.0) for r in runs),
        "holdout_rows": runs[0]["check"]["holdout_rows"],
        "data_mib": runs[0]["check"]["data_bytes"] / MIB,
        "outcome": first["outcome"],
        "gate": first["gate"],
        "governed_sha256": runs[0]["check"]["governed_sha256"],
        "same_outputs_every_repeat": same_outputs,
        "load_average": [min(min(g["load_average"]) for g in governed), max(max(g["load_average"]) for g in governed)],
    }


def _ratio_text(summary: dict[str, Any]) -> str:
    """The median of the paired ratios, and their range when there were several."""
    low, high = summary["ratio_range"]
    return f"{summary['ratio']:.2f}x" + (f" ({low:.2f}-{high:.2f})" if summary["repeats"] > 1 else "")


def _check_text(summary: dict[str, Any]) -> str:
    if summary["bit_identical"]:
        return f"bit-identical ({summary['holdout_rows']:,} rows)"
    return f"DIFFERENT: max abs difference {summary['max_abs_difference']!r} ({summary['holdout_rows']:,} rows)"


ABOUT = (
    "Each governed run is the real `fairgate run` (the retrain DAG through `airflow dags test`) in a temporary "
    "project, timed as a whole process tree from launch to exit; the bare script (`benchmarks/bare_fit.py`) reads "
    "the same accepted batches, makes the same out-of-time split, fits the same `LogisticRegression` with the same "
    "class weights (and, with exponentiated gradient, the same `ExponentiatedGradient(DemographicParity)` costs) and "
    "calls `predict_proba` on the holdout, with no governance. CPU seconds are the process tree's user and system "
    "time; peak RSS is the tree's summed resident memory, sampled. The last column compares the registered "
    "candidate's holdout probabilities with the bare fit's, bit for bit."
)


def render_markdown(results: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The report of one measurement, or of several merged (their sizes in turn, the last scale check)."""
    sources = results if isinstance(results, list) else [results]
    sizes = [dict(size, source=i) for i, r in enumerate(sources) for size in r["sizes"]]
    scale = next((r["scale"] for r in reversed(sources) if r.get("scale") is not None), None)
    columns = [(size, m, summarise(runs)) for size in sizes for m, runs in size["runs"].items()]
    lines = ["## The whole governed run against a bare script", "", ABOUT, ""]
    for i, source in enumerate(sources):
        loads = [load for size, _, s in columns if size["source"] == i for load in s["load_average"]]
        command = " ".join(_shown_arguments(source["command"].split()))
        lines.append(
            f"- `python -m benchmarks.whole_run {command}` on {source['date']}, {source['cpus']} cores "
            f"({source['platform']}); load average {min(loads):.1f} to {max(loads):.1f} during the governed runs"
            + (" (**loaded machine**: other work shared the cores, read the CPU seconds next to the wall seconds)"
               if max(loads) > source["cpus"] else "")
            + f"; medians of {source['repeats']} run(s) per mitigation, each a `fairgate run --force` of interval "
            f"{INTERVAL} "
            + ("after a first run that made a champion (steady state)" if source["warmup"]
               else "(the first without a champion)")
            + ", each followed by the bare script."
        )
    lines += [
        "",
        "| rows | mitigation | governed s (CPU s) | bare s (CPU s) | governed / bare (range) | "
        "peak RSS governed / bare (MiB) | holdout `predict_proba`: registered candidate vs bare fit |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for _, mitigation, s in columns:
        lines.append(
            f"| {s['rows']:,} | {mitigation} | {_s(s['governed_seconds'])} ({_s(s['governed_cpu_seconds'])}) | "
            f"{_s(s['bare_seconds'])} ({_s(s['bare_cpu_seconds'])}) | {_ratio_text(s)} | "
            f"{_s(s['governed_peak_mib'], 0)} / {_s(s['bare_peak_mib'], 0)} | {_check_text(s)} |"
        )
    header = "| | " + " | ".join(f"{s['rows']:,} {m}" for _, m, s in columns) + " |"
    rule = "| --- |" + " ---: |" * len(columns)
    lines += ["", "Stage by stage, median seconds: fairgate's stage timer / Airflow's task (start to end).", "",
              header.replace("| |", "| stage |", 1), rule]
    for task in TASKS:
        cells = [f"{_s(s['stages'][task]['fairgate_seconds'])} / {_s(s['stages'][task]['airflow_seconds'])}"
                 for _, _, s in columns]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", "Fixed costs, median seconds (Airflow's child process seen by sampling every "
              f"{sources[0]['sample_seconds']:g} s).", "", header.replace("| |", "| where |", 1), rule]
    for key, label in FIXED_COSTS:
        lines.append(f"| {label} | " + " | ".join(_s(s["fixed"][key]) for _, _, s in columns) + " |")
    lines += ["", "The bare script, median seconds:", "", header.replace("| |", "| step |", 1), rule]
    for step in columns[0][2]["bare_steps"]:
        lines.append(f"| {step} | " + " | ".join(_s(s["bare_steps"].get(step), 2) for _, _, s in columns) + " |")
    lines += ["", "Verdicts and outputs:", ""]
    for size in sizes:
        if size["warmup"] is not None:
            lines.append(f"- {size['warmup']['rows']:,} rows, the first run (no champion yet, exponentiated "
                         f"gradient; not in the medians): {size['warmup']['seconds']:.1f} s "
                         f"({size['warmup']['cpu_seconds']:.1f} CPU s), {size['warmup']['outcome']}.")
    for _, mitigation, s in columns:
        lines.append(
            f"- {s['rows']:,} rows, {mitigation}: outcome {s['outcome']}, gate technical {s['gate']['technical']}, "
            f"ethical {s['gate']['ethical']}; data in memory {s['data_mib']:,.0f} MiB; "
            f"candidate's holdout P(positive) sha256 {s['governed_sha256'][:16]}; "
            + ("one run" if s["repeats"] == 1 else
               "verdicts, key metrics (latency aside) and outputs the same in every repeat"
               if s["same_outputs_every_repeat"] else "**verdicts, key metrics or outputs DIFFERED between repeats**")
            + "."
        )
    if scale is not None:
        lines += ["", render_scale(scale)]
    return "\n".join(lines) + "\n"


def render_scale(size: dict[str, Any]) -> str:
    """The scale check's table: one cold run with mitigation none, peak memory against the data's size."""
    s = summarise(size["runs"]["none"])
    return "\n".join([
        f"Scale check: {s['rows']:,} rows, mitigation none, one cold run (no champion).",
        "",
        "| rows | governed s (CPU s) | bare s (CPU s) | data in memory (MiB) | governed peak RSS (MiB) | "
        "governed peak / data | bare peak RSS (MiB) | bare peak / data |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {s['rows']:,} | {_s(s['governed_seconds'])} ({_s(s['governed_cpu_seconds'])}) | "
        f"{_s(s['bare_seconds'])} ({_s(s['bare_cpu_seconds'])}) | {_s(s['data_mib'], 0)} | "
        f"{_s(s['governed_peak_mib'], 0)} | {s['governed_peak_mib'] / s['data_mib']:.1f}x | "
        f"{_s(s['bare_peak_mib'], 0)} | {s['bare_peak_mib'] / s['data_mib']:.1f}x |",
        "",
        "Data in memory: the training rows and the holdout as pandas holds them (`memory_usage(deep=True)`); "
        f"holdout `predict_proba`: {_check_text(s)}.",
    ])


def all_identical(results: dict[str, Any]) -> bool:
    """Whether every governed run's candidate gave the bare script's holdout output bit for bit."""
    sizes = [*results["sizes"], *([results["scale"]] if results.get("scale") else [])]
    return all(r["check"]["bit_identical"] for size in sizes for runs in size["runs"].values() for r in runs)


def measure(
    root: Path, sizes: list[int], mitigations: tuple[str, ...], repeats: int, warmup: bool,
    scale_rows_per_month: int | None, every: float = 0.2, command: str = "", say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every size, then the scale check; the measurements as one dict (what ``render_markdown`` reads)."""
    results: dict[str, Any] = {
        "command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "repeats": repeats, "warmup": warmup, "sample_seconds": every, "sizes": [], "scale": None,
    }
    for rows_per_month in sizes:
        say(f"{rows_per_month * MONTHS:,} rows ({rows_per_month:,} a month):")
        folder = root / f"rows-{rows_per_month}"
        folder.mkdir(parents=True)
        results["sizes"].append(measure_size(folder, rows_per_month, mitigations, repeats, warmup, every, say))
    if scale_rows_per_month:
        say(f"scale check, {scale_rows_per_month * MONTHS:,} rows, mitigation none:")
        folder = root / f"scale-{scale_rows_per_month}"
        folder.mkdir(parents=True)
        results["scale"] = measure_size(folder, scale_rows_per_month, ("none",), 1, False, every, say)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-month", type=int, nargs="+", default=[7692, 76923],
                        help="generator.rows_per_month of each size (13 months: 7692 ~ 100k rows, 76923 ~ 1M)")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs per mitigation and size (medians)")
    parser.add_argument("--mitigations", nargs="+", choices=MITIGATIONS, default=list(MITIGATIONS))
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="no first run: the first measured run has no champion to compare with")
    parser.add_argument("--scale-rows-per-month", type=int, default=384615,
                        help="the scale check's size, mitigation none, one cold run (0: none; 384615 ~ 5M rows)")
    parser.add_argument("--sample-seconds", type=float, default=0.2, help="memory sampling interval")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--keep", type=Path, help="make the projects under this folder and keep them")
    parser.add_argument("--render", type=Path, nargs="+", metavar="JSON",
                        help="measure nothing: print the report of these --json files, merged in turn")
    args = parser.parse_args()
    if args.render:
        sys.stdout.write(render_markdown([json.loads(f.read_text(encoding="utf-8")) for f in args.render]))
        return 0
    command = " ".join(sys.argv[1:])
    root = args.keep or Path(tempfile.mkdtemp(prefix="fairgate-bench-whole-"))
    try:
        results = measure(root, args.rows_per_month, tuple(args.mitigations), args.repeats, args.warmup,
                          args.scale_rows_per_month or None, args.sample_seconds, command)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
        _remove_test_template()
    report = render_markdown(results)
    sys.stdout.write("\n" + report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if not all_identical(results):
        sys.stderr.write("whole_run: a governed candidate's holdout output DIFFERED from the bare fit's\n")
        return 1
    return 0


def _shown_arguments(arguments: list[str]) -> list[str]:
    """The command's arguments as the report shows them: without this machine's output and project folders."""
    shown: list[str] = []
    skipping = False
    for argument in arguments:
        if argument.startswith("--"):
            skipping = argument in ("--markdown", "--json", "--keep")
        if not skipping:
            shown.append(argument)
    return shown


def _remove_test_template() -> None:
    """``tests.conftest`` makes a session folder on import (its project template); this command owns it."""
    conftest = sys.modules.get("tests.conftest")
    if conftest is not None:
        shutil.rmtree(conftest._SESSION_ROOT, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
