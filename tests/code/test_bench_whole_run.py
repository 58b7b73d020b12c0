"""The whole-run benchmark runs at a tiny size: its report keeps its shape and its output check holds both ways.

Two real governed runs (exponentiated gradient, then none with the first run's
champion) and the bare script after each, 600 rows a month.  Nothing here
looks at a timing: only that every figure the report promises is there, and
that the registered candidates' holdout probabilities equal the bare fits'
bit for bit, and that one changed bit is reported DIFFERENT.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks import whole_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TINY_ROWS_PER_MONTH = 600


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    root = tmp_path_factory.mktemp("whole-run")
    results = whole_run.measure(
        root, [TINY_ROWS_PER_MONTH], whole_run.MITIGATIONS, repeats=1, warmup=False, scale_rows_per_month=None,
        command="(tiny, in make test)", say=lambda line: None,
    )
    # the scale check is the same measurement of mitigation none: its table is rendered from this size's run
    results["scale"] = {**results["sizes"][0], "runs": {"none": results["sizes"][0]["runs"]["none"]}}
    return results, whole_run.render_markdown(results)


def test_every_mitigation_is_measured_against_the_bare_script(measured):
    results, _ = measured
    (size,) = results["sizes"]
    assert list(size["runs"]) == ["exponentiated_gradient", "none"]
    for mitigation, runs in size["runs"].items():
        (run,) = runs
        governed, bare = run["governed"], run["bare"]
        assert governed["rows"] == TINY_ROWS_PER_MONTH * whole_run.MONTHS, mitigation
        for figures in (governed, bare):
            assert figures["seconds"] > 0 and figures["cpu_seconds"] > 0 and figures["peak_tree_mib"] > 0
        assert run["ratio"] == governed["seconds"] / bare["seconds"]
        assert set(bare["steps"]) == {"imports", "read_and_split", "fit", "predict_proba", "total_in_process"}
        assert list(governed["stages"]) == list(whole_run.TASKS)
        assert all(s["airflow_seconds"] > 0 for s in governed["stages"].values())
        assert all(governed["stages"][t]["fairgate_seconds"] is not None for t in whole_run.TASKS[1:])
        fixed = governed["fixed"]
        assert set(fixed) == {key for key, _ in whole_run.FIXED_COSTS}
        assert None not in fixed.values(), "the Airflow child process was not seen by the sampler"
        assert min(fixed.values()) >= 0.0, fixed  # each a stretch of one timeline: launch, Airflow, tasks, exit
        assert fixed["before_first_task"] < fixed["outside_dag"] <= governed["seconds"]


def test_the_governed_candidates_equal_the_bare_fits_bit_for_bit(measured):
    results, _ = measured
    runs = results["sizes"][0]["runs"]
    assert runs["exponentiated_gradient"][0]["governed"]["outcome"] == "PROMOTED"
    # unmitigated, the generated data fails the ethical gate: blocked, and still registered
    assert runs["none"][0]["governed"]["gate"]["ethical"] == "blocked"
    for mitigation, (run,) in runs.items():
        check = run["check"]
        assert check["bit_identical"], (mitigation, check)
        assert check["max_abs_difference"] == 0.0
        assert check["governed_sha256"] == check["bare_sha256"]
        assert check["holdout_rows"] + check["train_rows"] == run["governed"]["rows"]
    assert whole_run.all_identical(results)


def test_one_changed_bit_is_different(measured):
    results, _ = measured
    run = results["sizes"][0]["runs"]["none"][0]
    changed = Path(run["bare"]["p_positive_file"]).with_name("changed.npy")
    bare = np.load(run["bare"]["p_positive_file"])
    bare[len(bare) // 2] = np.nextafter(bare[len(bare) // 2], 2.0)
    np.save(changed, bare)
    project = Path(run["bare"]["p_positive_file"]).parents[2] / "project"
    check = whole_run.check_outputs(project, str(changed), run["governed"]["version"])
    assert not check["bit_identical"]
    assert 0.0 < check["max_abs_difference"] < 1e-15
    size = {**results["sizes"][0], "runs": {"none": [{**run, "check": check}]}}
    different = {**results, "scale": None, "sizes": [size]}
    assert not whole_run.all_identical(different)
    assert "DIFFERENT: max abs difference" in whole_run.render_markdown(different)


def test_the_report_has_every_table(measured):
    _, report = measured
    assert report.startswith("## The whole governed run against a bare script\n")
    rows = f"{TINY_ROWS_PER_MONTH * whole_run.MONTHS:,}"
    for mitigation in whole_run.MITIGATIONS:
        line = next(x for x in report.splitlines() if x.startswith(f"| {rows} | {mitigation} |"))
        assert re.search(r"\| [\d.,]+x \|", line) and "bit-identical" in line
    for task in whole_run.TASKS:
        assert re.search(rf"^\| {task} \| .+ / [\d.,]+ \| .+ / [\d.,]+ \|$", report, re.MULTILINE), task
    for _, label in whole_run.FIXED_COSTS:
        assert re.search(rf"^\| {re.escape(label)} \| [\d.,]+ \| [\d.,]+ \|$", report, re.MULTILINE), label
    assert report.count("; one run.") == 2  # one run of each mitigation: no agreement between repeats is claimed
    assert re.search(r"^Scale check: [\d,]+ rows, mitigation none", report, re.MULTILINE)
    assert re.search(r"\| [\d.]+x \| [\d,]+ \| [\d.]+x \|$", report, re.MULTILINE)  # peak / data, both sides


def _with_second_run(results: dict, change) -> str:
    """The report with the EG run repeated, the copy's governed figures changed by ``change``."""
    size = results["sizes"][0]
    run = size["runs"]["exponentiated_gradient"][0]
    governed = {**run["governed"], "key_metrics": dict(run["governed"]["key_metrics"])}
    change(governed["key_metrics"])
    twice = {**size, "runs": {"exponentiated_gradient": [run, {**run, "governed": governed}]}}
    return whole_run.render_markdown({**results, "sizes": [twice], "scale": None})


def test_repeats_must_agree_on_verdicts_metrics_and_outputs_but_not_latency(measured):
    results, _ = measured
    metrics = results["sizes"][0]["runs"]["exponentiated_gradient"][0]["governed"]["key_metrics"]
    latency = next(name for name in metrics if "latency" in name)
    other = next(name for name in metrics if "latency" not in name and float(metrics[name]) != 0.0)
    agreed = "verdicts, key metrics (latency aside) and outputs the same in every repeat"
    assert agreed in _with_second_run(results, lambda m: None)
    assert agreed in _with_second_run(results, lambda m: m.update({latency: repr(float(m[latency]) * 2)}))
    differed = _with_second_run(results, lambda m: m.update({other: repr(float(m[other]) * (1 + 1e-15))}))
    assert "DIFFERED between repeats" in differed and agreed not in differed
