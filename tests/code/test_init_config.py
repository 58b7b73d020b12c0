"""``fairgate init DATA_FILE``: the drafted fairgate.yaml, its refusal until reviewed, and the review's result.

German Credit (tests/fixtures, CC BY 4.0) and a generated frame with an id column, a decision date, a
date after the outcome and a column filled in only for defaults: what the draft proposes, that every command
refuses it until its placeholders are replaced, and that after the review edits ``fairgate check`` passes
(while keeping a proposed leak still blocks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipelines.core.config import (
    REVIEW_MARKER,
    AuditSettings,
    DatasetSettings,
    load_config,
)
from pipelines.core.errors import BadInputError
from pipelines.data.profile import name_tokens, profile_roles
from pipelines.flows.cli import main
from tests.conftest import REPO

GERMAN_CREDIT = REPO / "tests" / "fixtures" / "german_credit.csv"  # CC BY 4.0: tests/fixtures/README.md
REVIEWED_GERMAN = REPO / "tests" / "fixtures" / "german_credit.fairgate.yaml"
STATUS_SEX_PLACEHOLDER = "REVIEW: why is status_sex excluded? (finding above)"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FAIRGATE_HOME", raising=False)
    return tmp_path


def fairgate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def applications(rows: int = 1200, seed: int = 15) -> pd.DataFrame:
    """Loan applications: an id, a decision date, an outcome, and two columns known only after it."""
    rng = np.random.default_rng(seed)
    decided = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, rows)), unit="D")
    income = rng.lognormal(10, 0.4, rows).round(2)
    amount = rng.uniform(1_000, 20_000, rows).round(2)
    risk = 1 / (1 + np.exp(-(-1.2 + amount / 20_000 - (income - 22_000) / 20_000)))
    late = (rng.random(rows) < risk).astype(int)
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:05d}" for i in range(rows)],
            "application_date": decided.strftime("%Y-%m-%d"),
            "repaid_late": late,  # the outcome: not named like one, not the last column
            "gender": rng.choice(["female", "male"], rows),
            "age": rng.integers(18, 80, rows),
            "income": income,
            "amount": amount,
            "has_guarantor": rng.integers(0, 2, rows),
            # post-outcome: the date the loan closed, and what was recovered (only from those who defaulted)
            "closed_date": (decided + pd.to_timedelta(rng.integers(30, 400, rows), unit="D")).strftime("%Y-%m-%d"),
            "recovery_amount": np.where(late == 1, rng.uniform(0, 5_000, rows).round(2), np.nan),
            "region": rng.choice(["north", "south", "east", "west"], rows),
        }
    )


def reviewed(text: str, decisions: dict[str, str]) -> str:
    """Apply review edits: each ``key`` line holding a placeholder gets the reviewed value."""
    lines = []
    for line in text.splitlines():
        key = line.strip().split(":", 1)[0].strip('"')
        if REVIEW_MARKER in line and key in decisions:
            indent = line[: len(line) - len(line.lstrip())]
            line = f'{indent}"{key}": "{decisions[key]}"' if indent.strip() == "" and len(indent) > 2 else (
                f"{indent}{key}: {decisions[key]}"
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


# ---------------------------------------- German Credit


def test_german_credit_draft(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "german_credit.csv").write_bytes(GERMAN_CREDIT.read_bytes())
    code, out, err = fairgate(capsys, "init", "german_credit.csv")
    assert (code, err) == (0, "")
    assert "1 value(s) still hold a REVIEW: placeholder (dataset.exclude_columns.status_sex)" in out
    text = (in_tmp / "fairgate.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    dataset = raw["dataset"]
    assert (dataset["source"], dataset["path"], dataset["target"], dataset["positive_label"]) == (
        "file", "german_credit.csv", "bad_credit", 1
    )
    assert (dataset["sensitive"], dataset["time_column"], dataset["id_columns"]) == (["sex"], None, [])
    # status_sex encodes sex: proposed for exclusion, with the proxy finding above its placeholder
    assert dataset["exclude_columns"] == {"status_sex": STATUS_SEX_PLACEHOLDER}
    assert (
        "    # leakage, proxy (warns): no feature predicting 'sex' with a univariate AUC above 0.7; found "
        "'status_sex' predicting it at AUC 1.000\n" in text
    )
    # every guess says so, with its alternatives and why they were not chosen
    assert "#   bad_credit: 0: 700 (70.0%), 1: 300 (30.0%)  <- guess" in text
    assert "#   telephone: False: 596 (59.6%), True: 404 (40.4%)" in text
    assert "status_sex: named like a protected characteristic (sex)" in text and "its values determine 'sex'" in text
    assert "age: named like a protected characteristic (age)" in text and "53 distinct values" in text
    assert "foreign_worker" in text and "37 rows (3.7%), under audit.min_group_share (0.05)" in text
    # the lending defaults, with the pointer to the README's section on the ethical checks
    assert text.count("README.md#choosing-the-fairness-checks") == 3
    assert raw["decision"] == yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))["decision"]
    assert raw["gate"] == yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))["gate"]
    assert "generator" not in raw and raw["registry"]["model_name"] == "fairgate-german-credit"


def test_the_draft_is_refused_until_reviewed(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "german_credit.csv").write_bytes(GERMAN_CREDIT.read_bytes())
    assert fairgate(capsys, "init", "german_credit.csv")[0] == 0
    config = in_tmp / "fairgate.yaml"
    refusal = (
        "fairgate: fairgate.yaml: dataset.exclude_columns.status_sex: still the unreviewed placeholder fairgate "
        f"init wrote ({STATUS_SEX_PLACEHOLDER!r}): replace it with the reviewed decision\n"
    )
    # every command that loads the configuration refuses it, naming the key, exit 2
    for command in (["check", "german_credit.csv", "--target", "bad_credit"], ["status"], ["init"]):
        assert fairgate(capsys, *command) == (2, "", refusal), command
    with pytest.raises(BadInputError, match="dataset.exclude_columns.status_sex"):
        load_config(config)
    config.write_text(config.read_text(encoding="utf-8").replace(STATUS_SEX_PLACEHOLDER, "encodes sex"), "utf-8")
    assert load_config(config).dataset.exclude_columns == {"status_sex": "encodes sex"}


def test_the_committed_reviewed_config_is_the_draft_with_the_review_edits(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """tests/fixtures/german_credit.fairgate.yaml: init's output, reviewed (only the placeholder was replaced)."""
    (in_tmp / "german_credit.csv").write_bytes(GERMAN_CREDIT.read_bytes())
    assert fairgate(capsys, "init", "german_credit.csv")[0] == 0
    draft = yaml.safe_load((in_tmp / "fairgate.yaml").read_text(encoding="utf-8"))
    committed = yaml.safe_load(REVIEWED_GERMAN.read_text(encoding="utf-8"))
    reason = committed["dataset"]["exclude_columns"]["status_sex"]
    assert REVIEW_MARKER not in reason and "sex" in reason
    draft["dataset"]["exclude_columns"]["status_sex"] = reason
    assert draft == committed
    assert load_config(REVIEWED_GERMAN).dataset.sensitive == ["sex"]


def test_init_output_checks_clean_on_german_credit_after_review(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "german_credit.csv").write_bytes(GERMAN_CREDIT.read_bytes())
    (in_tmp / "fairgate.yaml").write_text(REVIEWED_GERMAN.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = fairgate(capsys, "check", "german_credit.csv", "--target", "bad_credit", "--sensitive", "sex",
                              "--json")  # fmt: skip
    assert code == 0, out + err
    assert '"findings": []' in out and "excluded status_sex: personal status and sex" in out


# ---------------------------------------- a generated frame: id, dates, a post-outcome leak


def test_generated_draft_proposes_roles_and_the_leaks(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applications().to_csv(in_tmp / "loans.csv", index=False)
    code, out, err = fairgate(capsys, "init", "loans.csv")
    assert (code, err) == (0, "")
    text = (in_tmp / "fairgate.yaml").read_text(encoding="utf-8")
    dataset = yaml.safe_load(text)["dataset"]
    # no column is named like an outcome and the last one is not two-valued: the user picks
    assert dataset["target"] == "REVIEW: pick the outcome column: one of repaid_late, gender, has_guarantor"
    assert "the checks below were run with 'repaid_late' as the outcome" in text
    assert (dataset["time_column"], dataset["id_columns"], dataset["sensitive"]) == (
        "application_date", ["loan_id"], ["gender"]
    )
    assert "later than 'application_date' on most rows: not the decision time" in text  # closed_date
    assert set(dataset["exclude_columns"]) == {"closed_date", "recovery_amount"}
    assert all(v.startswith(REVIEW_MARKER) for v in dataset["exclude_columns"].values())
    assert "# leakage, post_outcome (blocks): 'closed_date' on or before the decision time" in text
    assert "# leakage, post_outcome (blocks): 'recovery_amount' present about as often for either class" in text
    assert (
        "# audit, null_share (blocks): null share of 'recovery_amount' at most 20.0% (audit.first_run_max_null_share"
        in text
    )
    assert "dataset.target, dataset.exclude_columns.recovery_amount, dataset.exclude_columns.closed_date" in out


def test_generated_draft_runs_after_the_review_edits(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`init` output runs after the user's review edits: `fairgate check` passes; keeping a leak still blocks."""
    applications().to_csv(in_tmp / "loans.csv", index=False)
    assert fairgate(capsys, "init", "loans.csv")[0] == 0
    config = in_tmp / "fairgate.yaml"
    draft = config.read_text(encoding="utf-8")
    roles = ["--target", "repaid_late", "--time-column", "application_date", "--id-column", "loan_id",
             "--sensitive", "gender"]  # fmt: skip
    assert fairgate(capsys, "check", "loans.csv", *roles)[0] == 2  # unreviewed: refused
    decisions = {
        "target": "repaid_late",
        "closed_date": "known only once the loan has closed, after the decision",
        "recovery_amount": "recorded only for loans that defaulted: a copy of the outcome",
    }
    config.write_text(reviewed(draft, decisions), encoding="utf-8")
    loaded = load_config(config).dataset
    assert loaded.target == "repaid_late" and loaded.exclude_columns["closed_date"] == decisions["closed_date"]
    code, out, err = fairgate(capsys, "check", "loans.csv", *roles)
    assert code == 0, out + err
    # the review may keep a proposed column instead (deleting its line): then the check decides, and blocks
    kept = {k: v for k, v in decisions.items() if k != "closed_date"}
    edited = "\n".join(line for line in reviewed(draft, kept).splitlines() if '"closed_date": "REVIEW' not in line)
    config.write_text(edited + "\n", encoding="utf-8")
    code, out, err = fairgate(capsys, "check", "loans.csv", *roles)
    assert code == 1 and "post_outcome" in out and "closed_date" in out, out + err


def test_naming_the_target_drafts_for_it(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applications().to_csv(in_tmp / "loans.csv", index=False)
    assert fairgate(capsys, "init", "loans.csv", "--target", "repaid_late")[0] == 0
    dataset = yaml.safe_load((in_tmp / "fairgate.yaml").read_text(encoding="utf-8"))["dataset"]
    assert dataset["target"] == "repaid_late"


# ---------------------------------------- bad input and the file already there


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["init", "missing.csv"], "fairgate: missing.csv: no such file\n"),
        (["init", "loans.csv", "--target", "income"],
         "fairgate: --target 'income': not a column of loans.csv holding exactly two values on every row\n"),
        (["init", "loans.csv", "--target", "nope"],
         "fairgate: --target 'nope': not a column of loans.csv holding exactly two values on every row "
         "(no such column)\n"),
        (["init", "--force"], "fairgate: fairgate init: --force only go with a DATA_FILE to draft fairgate.yaml "
         "from\n"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_nothing_written(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    applications(rows=300).to_csv(in_tmp / "loans.csv", index=False)
    assert fairgate(capsys, *args) == (2, "", message)
    assert sorted(p.name for p in in_tmp.iterdir()) == ["loans.csv"]


def test_an_unreadable_file_is_refused(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "bad.csv").write_bytes(b"a,y\n\xff,1\n")
    code, out, err = fairgate(capsys, "init", "bad.csv")
    assert (code, out) == (2, "") and err.startswith("fairgate: bad.csv: not UTF-8 text: byte 0xff at line 2")
    assert len(err.splitlines()) == 1 and not (in_tmp / "fairgate.yaml").exists()


def test_a_missing_project_folder_is_refused(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    applications(rows=300).to_csv(in_tmp / "loans.csv", index=False)
    monkeypatch.setenv("FAIRGATE_HOME", str(in_tmp / "nowhere"))
    code, out, err = fairgate(capsys, "init", "loans.csv")
    assert (code, out, err) == (2, "", f"fairgate: FAIRGATE_HOME={in_tmp / 'nowhere'}: no such folder to write "
                                       "fairgate.yaml into\n")  # fmt: skip


def test_without_a_sensitive_candidate_the_user_names_one(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applications(rows=400).drop(columns=["gender", "age"]).to_csv(in_tmp / "loans.csv", index=False)
    code, out, _ = fairgate(capsys, "init", "loans.csv", "--target", "repaid_late")
    assert code == 0 and "dataset.sensitive.0" in out
    dataset = yaml.safe_load((in_tmp / "fairgate.yaml").read_text(encoding="utf-8"))["dataset"]
    assert dataset["sensitive"] == ["REVIEW: name the sensitive attribute column(s)"]
    with pytest.raises(BadInputError, match=r"^fairgate.yaml: dataset\.sensitive\.0: still the unreviewed"):
        load_config(in_tmp / "fairgate.yaml")


def test_no_two_valued_column_is_refused(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_csv(in_tmp / "t.csv", index=False)
    code, out, err = fairgate(capsys, "init", "t.csv")
    assert (code, out) == (2, "")
    assert err.startswith("fairgate: t.csv: no column holds exactly two values on every row")
    assert not (in_tmp / "fairgate.yaml").exists()


def test_an_existing_config_is_kept_unless_forced(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    applications(rows=300).to_csv(in_tmp / "loans.csv", index=False)
    config = in_tmp / "fairgate.yaml"
    config.write_text("mine\n", encoding="utf-8")
    code, out, err = fairgate(capsys, "init", "loans.csv")
    assert (code, out) == (2, "") and "fairgate.yaml exists: review or move it, or pass --force" in err
    assert config.read_text(encoding="utf-8") == "mine\n"
    assert fairgate(capsys, "init", "loans.csv", "--force")[0] == 0
    first = config.read_text(encoding="utf-8")
    assert "drafted by `fairgate init`" in first
    assert fairgate(capsys, "init", "loans.csv", "--force")[0] == 0
    assert config.read_text(encoding="utf-8") == first  # deterministic: the same data, the same draft
    assert sorted(p.name for p in in_tmp.iterdir()) == ["fairgate.yaml", "loans.csv"]  # no temporary left


# ---------------------------------------- the placeholder in validation; the profile


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"target": "REVIEW: pick one"}, "target"),
        ({"sensitive": ["sex", " REVIEW: name them"]}, "sensitive.1"),
        ({"exclude_columns": {"c": "REVIEW: why?"}}, "exclude_columns.c"),
        ({"time_column": "REVIEW: which?"}, "time_column"),
        ({"id_columns": ["REVIEW: which?"]}, "id_columns.0"),
    ],
)
def test_a_placeholder_anywhere_in_dataset_is_refused(changes: dict, key: str, tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "fairgate.yaml").read_text(encoding="utf-8"))
    raw["dataset"].update(changes)
    path = tmp_path / "fairgate.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(BadInputError, match=rf"^fairgate.yaml: dataset\.{key}: still the unreviewed placeholder"):
        load_config(path)
    with pytest.raises(ValueError, match="still the unreviewed placeholder"):
        DatasetSettings(**{"target": "y", "sensitive": ["s"], **changes})  # direct construction refuses it too


def test_a_reviewed_reason_may_mention_the_word() -> None:
    settings = DatasetSettings(target="y", sensitive=["s"], exclude_columns={"c": "after REVIEW: leaks"})
    assert settings.exclude_columns == {"c": "after REVIEW: leaks"}


def test_name_tokens() -> None:
    assert name_tokens("customerID") == ["customer", "id"]
    assert name_tokens("status_sex") == ["status", "sex"]
    assert name_tokens("ApplicationDate") == ["application", "date"]
    assert name_tokens("Paid") == ["paid"]  # not an id


def test_profile_without_any_named_role() -> None:
    """Nothing named like a role, no dates, no unique text: nothing is guessed, and it says so."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.choice(["a", "b", "c"], 400),
                          "flag": rng.integers(0, 2, 400), "score": rng.normal(size=400)})  # fmt: skip
    profile = profile_roles(frame, AuditSettings())
    assert profile.target is None and [c.column for c in profile.targets] == ["flag"]
    assert (profile.sensitive, profile.time, profile.ids) == ([], [], [])


def test_gender_words_are_found_without_the_name_and_an_encoding_is_not_guessed() -> None:
    rng = np.random.default_rng(4)
    who = rng.choice(["M", "F"], 500)
    status = np.where(who == "F", "F-any", np.where(rng.random(500) < 0.5, "M-single", "M-married"))
    frame = pd.DataFrame({"p1": who, "sex_status": status, "y": rng.integers(0, 2, 500)})
    profile = profile_roles(frame, AuditSettings())
    assert profile.sensitive_guess == ["p1"]
    encoded = next(c for c in profile.sensitive if c.column == "sex_status")
    assert encoded.not_chosen is not None and "determine 'p1'" in encoded.not_chosen
    assert profile.target is not None and profile.target.column == "y"


def test_datetime_columns_and_a_repeated_entity_id() -> None:
    """A datetime column (Parquet's kind) is a time candidate; a named id that repeats is guessed, and says so."""
    rng = np.random.default_rng(5)
    decided = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, 600), unit="h")
    frame = pd.DataFrame({"decided_at": decided, "paid_at": decided + pd.Timedelta(days=30),
                          "customer_id": rng.integers(0, 100, 600), "x": rng.normal(size=600),
                          "outcome": rng.integers(0, 2, 600)})  # fmt: skip
    profile = profile_roles(frame, AuditSettings())
    assert profile.time_guess == "decided_at"
    assert [c.column for c in profile.time] == ["decided_at", "paid_at"] and profile.time[1].not_chosen
    assert profile.id_guess == ["customer_id"] and "share their value with another row" in profile.ids[0].why
    assert profile.target is not None and profile.target.column == "outcome"
