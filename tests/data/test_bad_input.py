"""Bad input the checks once missed (issue 14): ragged CSV rows, fields over the csv limit, infinities, one group.

Each case both ways: the bad file is refused (exit 2, one line) or blocked
(a finding), and the legitimate file next to it still passes.  The data is
the Statlog German Credit file (CC BY 4.0, tests/fixtures/README.md),
mutated.  The reader's cases go through :func:`pipelines.core.tables.read_table`
(the one reader of ``fairgate check`` and ``fairgate run``); the audit's
through :func:`pipelines.data.audit.audit_dataset`; two cases run the whole
``fairgate run`` on a file-source project.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core import csv_scan, tables
from pipelines.core.config import AuditSettings, DatasetSettings
from pipelines.core.errors import BadInputError
from pipelines.data import audit_measurable
from pipelines.data.audit import ERR_REFERENCE_INFINITE, AuditResult, audit_dataset

GERMAN_CREDIT = Path(__file__).resolve().parents[1] / "fixtures" / "german_credit.csv"
LIMIT = csv.field_size_limit()

DATASET = DatasetSettings(
    source="file",
    path="german_credit.csv",
    target="bad_credit",
    positive_label=1,
    time_column=None,
    id_columns=[],
    sensitive=["sex"],
    exclude_columns={"status_sex": "encodes sex, the sensitive attribute"},
)


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return pd.read_csv(GERMAN_CREDIT)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# ---------------------------------------------------------------- the reader: ragged rows


@pytest.mark.parametrize(
    ("row", "change", "found"),
    [
        pytest.param(499, lambda line: line.rstrip("\n").rsplit(",", 1)[0] + "\n", 21, id="a-field-fewer"),
        pytest.param(0, lambda line: line.rstrip("\n") + ",extra\n", 23, id="a-field-more"),
        pytest.param(999, lambda line: line.rstrip("\n").rsplit(",", 2)[0] + "\n", 20, id="last-row-two-fewer"),
    ],
)
def test_a_ragged_row_is_refused_naming_its_line(tmp_path: Path, row: int, change, found: int) -> None:
    lines = _lines(GERMAN_CREDIT)
    lines[row + 1] = change(lines[row + 1])  # line 1 is the header
    path = tmp_path / "german.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(path)
    assert str(raised.value) == tables.ERR_RAGGED_ROW.format(path=path, line=row + 2, found=found, expected=22, count=1)


def test_the_line_of_a_ragged_row_counts_quoted_newlines_and_every_ragged_row_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    # record 2 spans lines 2-4 (a quoted note over three lines); line 5 is blank; lines 6 and 8 are short
    path.write_text('a,note,y\n1,"first\nsecond\nthird",0\n\n2,1\n3,"x",1\n4,0\r\n', encoding="utf-8", newline="")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(path)
    assert str(raised.value) == tables.ERR_RAGGED_ROW.format(path=path, line=6, found=2, expected=3, count=2)


def test_what_pandas_reads_as_regular_still_reads(tmp_path: Path, german: pd.DataFrame) -> None:
    """Quoted newlines, quoted commas, doubled quotes, blank and whitespace lines, CRLF, a BOM: read as before."""
    path = tmp_path / "odd.csv"
    text = '\ufeffa,note,y\r\n1,"first\r\nsecond",0\r\n\r\n   \r\n2,"a, b ""quoted""",1\r\n3,,0'
    path.write_text(text, encoding="utf-8", newline="")
    frame = tables.read_table(path)
    assert frame.equals(pd.read_csv(path, encoding="utf-8-sig"))
    assert frame["note"].tolist()[:2] == ["first\r\nsecond", 'a, b "quoted"']
    assert tables.read_table(GERMAN_CREDIT).equals(german)


def test_the_byte_scan_never_clears_what_the_csv_module_finds_ragged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random CSV text, chunks of 5 bytes: whenever the scan clears a file, the csv module agrees."""
    monkeypatch.setattr(csv_scan, "_CHUNK", 5)
    rng = random.Random(14)
    pieces = ["a", "é", ",", '"', "\n", "\r\n", " "]
    cleared = refused = 0
    for _ in range(600):
        text = "x,y,z\n" + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        path = tmp_path / "scan.csv"
        path.write_bytes(text.encode("utf-8"))
        records = [r for r in csv.reader(io.StringIO(text, newline="")) if not tables._is_blank(r)]
        regular = all(len(r) == 3 for r in records)
        if csv_scan.records_look_regular(path, LIMIT, 3):
            cleared += 1
            assert regular, repr(text)
        elif not regular:
            refused += 1
    assert cleared > 20 and refused > 200  # both outcomes were exercised


# ---------------------------------------------------------------- the reader: fields over the csv module's limit


@pytest.mark.parametrize(
    ("where", "line"),
    [pytest.param("header", 1, id="in-the-header"), pytest.param("row", 7, id="in-a-data-row")],
)
def test_a_field_over_the_csv_limit_is_refused_naming_the_line_and_the_limit(
    tmp_path: Path, where: str, line: int
) -> None:
    lines = _lines(GERMAN_CREDIT)
    long = "x" * 200_000
    if where == "header":
        lines[0] = lines[0].replace("purpose", long)
    else:
        fields = lines[line - 1].split(",")
        fields[3] = f'"{long}"'  # purpose, quoted
        lines[line - 1] = ",".join(fields)
    path = tmp_path / "long.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(path)
    assert str(raised.value) == tables.ERR_FIELD_TOO_LARGE.format(path=path, line=line, limit=LIMIT)


def test_a_long_record_of_short_fields_still_reads(tmp_path: Path) -> None:
    """A record over the limit sends the file to the csv module, which accepts it: its fields are short."""
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(20_000))
    path.write_text(f"{header}\n{','.join(['1'] * 20_000)}\n", encoding="utf-8")
    assert path.stat().st_size > LIMIT
    assert tables.read_table(path).shape == (1, 20_000)


# ---------------------------------------------------------------- the audit: infinities


def _audit(frame: pd.DataFrame, reference: pd.DataFrame | None = None) -> AuditResult:
    return audit_dataset(frame, reference, DATASET, AuditSettings())


def _finding(result: AuditResult, check: str) -> list:
    return [f for f in result.report.findings if f.check == check]


@pytest.fixture(scope="module")
def clean(german: pd.DataFrame) -> AuditResult:
    return _audit(german)


def test_a_clean_file_has_no_infinite_values_finding_and_two_groups(clean: AuditResult) -> None:
    assert _finding(clean, "infinite_values") == [] and _finding(clean, "sensitive_groups") == []
    rows = {row["check"]: row for row in clean.expectations if row["check"] in ("infinite_values", "sensitive_groups")}
    assert rows["infinite_values"]["success"] and rows["infinite_values"]["observed"] == "none infinite"
    assert rows["sensitive_groups"]["success"] and rows["sensitive_groups"]["observed"] == "2 groups"


def test_inf_in_csv_text_is_a_blocking_finding_naming_columns_and_counts(tmp_path: Path) -> None:
    lines = _lines(GERMAN_CREDIT)
    header = lines[0].rstrip("\n").split(",")
    amount, age = header.index("credit_amount"), header.index("age")
    for row, column, text in ((3, amount, "inf"), (10, amount, "Infinity"), (5, amount, "-inf"), (8, age, "-Infinity")):
        fields = lines[row + 1].rstrip("\n").split(",")
        fields[column] = text
        lines[row + 1] = ",".join(fields) + "\n"
    path = tmp_path / "inf.csv"
    path.write_text("".join(lines), encoding="utf-8")
    result = _audit(tables.read_table(path))
    (finding,) = _finding(result, "infinite_values")
    assert (finding.severity, finding.columns) == ("block", ["credit_amount", "age"])
    found = "; ".join(
        audit_measurable.FOUND_INFINITE.format(column=c, rows=p + n, positive=p, negative=n)
        for c, p, n in (("credit_amount", 2, 1), ("age", 0, 1))
    )
    assert finding.message == f"{audit_measurable.EXPECTED_FINITE}; found {found}"
    assert finding.evidence == {
        "rows": 4,
        "columns": {"credit_amount": {"inf": 2, "-inf": 1}, "age": {"inf": 0, "-inf": 1}},
    }
    assert result.report.verdict == "blocked"


def test_inf_in_a_parquet_float_column_blocks(tmp_path: Path, german: pd.DataFrame) -> None:
    frame = german.astype({"credit_amount": "float64"})
    frame.loc[[1, 2], "credit_amount"] = np.inf
    path = tmp_path / "inf.parquet"
    frame.to_parquet(path)
    (finding,) = _finding(_audit(tables.read_table(path)), "infinite_values")
    assert finding.columns == ["credit_amount"] and finding.evidence["rows"] == 2


def test_a_reference_holding_inf_is_refused(german: pd.DataFrame) -> None:
    reference = german.astype({"age": "float64"})
    reference.loc[0, "age"] = -np.inf
    with pytest.raises(BadInputError) as raised:
        _audit(german, reference)
    assert str(raised.value) == ERR_REFERENCE_INFINITE.format(columns=["age"])


# ---------------------------------------------------------------- the audit: a sensitive attribute with one group


@pytest.mark.parametrize(
    ("change", "found"),
    [
        pytest.param(
            lambda g: g.assign(sex="female"),
            audit_measurable.FOUND_ONE_GROUP.format(group="female", rows=1000, missing=""),
            id="every-row-female",
        ),
        pytest.param(
            lambda g: g.assign(sex=g["sex"].where(g["sex"] == "male")),
            audit_measurable.FOUND_ONE_GROUP.format(
                group="male", rows=690, missing=audit_measurable.MISSING_ROWS.format(count=310)
            ),
            id="one-group-once-missing-values-are-left-out",
        ),
        pytest.param(
            lambda g: g.assign(sex=np.nan),
            audit_measurable.FOUND_NO_GROUP.format(column="sex", rows=1000),
            id="entirely-missing",
        ),
    ],
)
def test_a_sensitive_attribute_without_two_groups_blocks_with_the_reason(german: pd.DataFrame, change, found) -> None:
    result = _audit(change(german))
    (finding,) = _finding(result, "sensitive_groups")
    assert (finding.severity, finding.columns) == ("block", ["sex"])
    assert finding.message == f"{audit_measurable.EXPECTED_GROUPS.format(column='sex')}; found {found}"


# ---------------------------------------------------------------- fairgate run on a file-source project


@pytest.fixture(scope="module")
def file_project(session_root: Path) -> Path:
    """One file-source project for both runs (each fails before anything is registered)."""
    from tests.conftest import make_project
    from tests.projects import GERMAN_FILE_PROJECT

    return make_project(session_root / "bad-input-file", **GERMAN_FILE_PROJECT)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(
    ("mutate", "code", "expected"),
    [
        pytest.param(
            lambda lines: lines[:100] + [lines[100].rstrip("\n").rsplit(",", 1)[0] + "\n"] + lines[101:],
            2,
            lambda p: tables.ERR_RAGGED_ROW.format(path=p, line=101, found=21, expected=22, count=1),
            id="ragged-row",
        ),
        pytest.param(
            lambda lines: [lines[0], lines[1].replace(",1169,", ",inf,", 1)] + lines[2:],
            1,
            lambda p: audit_measurable.FOUND_INFINITE.format(column="credit_amount", rows=1, positive=1, negative=0),
            id="inf",
        ),
    ],
)
def test_fairgate_run_on_a_file_source_refuses_and_blocks_the_same(
    file_project: Path, mutate, code: int, expected
) -> None:
    from tests.projects import MODEL, client_for, fairgate

    source = file_project / "german_credit.csv"
    source.write_text("".join(mutate(_lines(GERMAN_CREDIT))), encoding="utf-8")
    result = fairgate(file_project, "run", "--interval", "2026-05")
    assert result.returncode == code, result.stdout + result.stderr
    assert expected(source) in result.stdout
    if code == 1:
        assert "\naudit      blocked" in result.stdout, result.stdout
    assert client_for(file_project).search_model_versions(f"name = '{MODEL}'") == []
