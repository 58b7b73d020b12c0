"""The run summary's stage table: a blocked promotion says nothing moved, and the gate's reasons appear once."""

from __future__ import annotations

from pipelines.flows.run_summary import stage_lines

STAGES = ("gate", "register", "promote")
GATE_REASON = "ethical: demographic_parity_ratio[sex] 0.71 < 0.8"


def records(promote: dict) -> dict[str, dict]:
    return {
        "gate": {"verdict": "blocked", "seconds": 0.1, "reasons": [GATE_REASON],
                 "details": {"technical": "passed", "ethical": "blocked"}},
        "register": {"verdict": "passed", "seconds": 1.2, "details": {"model": "m", "version": 2}},
        "promote": promote,
    }


def test_a_promotion_blocked_by_the_gate_says_nothing_moved_and_points_to_the_gates_reasons():
    lines = stage_lines(records({"verdict": "blocked", "seconds": 0.0, "reasons": [GATE_REASON], "details": {}}),
                        STAGES)
    text = "\n".join(lines)
    assert "None" not in text
    assert lines[3].startswith("promote    blocked") and lines[3].endswith("nothing moved")
    assert text.count(GATE_REASON) == 1
    assert lines[-1].strip() == "reason: the gate stage's, above"


def test_a_promotion_shows_the_move_and_its_own_new_reasons():
    moved = stage_lines(records({"verdict": "passed", "seconds": 0.3, "details": {"from_version": None,
                                                                                   "to_version": "2"}}), STAGES)
    assert moved[-1].endswith("champion none -> 2")
    own = stage_lines(records({"verdict": "blocked", "seconds": 0.0, "reasons": ["deployments frozen"],
                               "details": {}}), STAGES)
    assert own[-1].strip() == "reason: deployments frozen"  # a reason of its own is printed in full


def test_a_stage_that_did_not_run_is_named():
    assert stage_lines({}, ("audit",)) == ["audit      not run           "]


def test_a_running_retrain_prints_each_stage_once_as_its_record_appears(tmp_path, capsys):
    from pipelines.core.files import write_json
    from pipelines.core.project import ProjectPaths
    from pipelines.flows.run_summary import StageProgress

    paths = ProjectPaths(tmp_path)
    pointer = tmp_path / "var" / "requests" / "r1.json"
    progress = StageProgress(paths, pointer)
    progress()  # before run_reference wrote the pointer: nothing to say yet
    assert capsys.readouterr().out == ""
    write_json(pointer, {"airflow_run_id": "manual__2026-12-08T00:00:00+00:00"})
    stages = paths.run_dir("manual__2026-12-08T00:00:00+00:00") / "stages"
    write_json(stages / "00-ingest.json", {"stage": "ingest", "verdict": "passed", "seconds": 3.0612})
    progress()
    progress()  # nothing new: nothing printed twice
    write_json(stages / "01-audit.json", {"stage": "audit", "verdict": "blocked", "seconds": 3.59,
                                          "reasons": ["nulls in income: 8% > 5%", "second"]})
    progress()
    printed = capsys.readouterr().out
    assert printed == "  ingest: passed in 3.1 s\n  audit: blocked in 3.6 s (nulls in income: 8% > 5%)\n"
