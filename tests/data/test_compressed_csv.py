"""Compressed CSV through the one table reader: the same rows as the plain file, the same refusals (issue 15)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core import tables
from pipelines.core.errors import BadInputError
from tests.conftest import SHARED_DATA


def _compress(plain: Path, kind: str) -> Path:
    """Write ``plain`` compressed as ``kind`` beside it; return the compressed file."""
    data = plain.read_bytes()
    if kind == "zip":
        target = plain.with_name(plain.name + ".zip")
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(plain.name, data)
        return target
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    target = plain.with_name(plain.name + "." + kind)
    with opener(target, "wb") as handle:
        handle.write(data)
    return target


KINDS = ["gz", "bz2", "xz", "zip"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_compressed_csv_reads_equal_to_its_plain_csv(tmp_path: Path, kind: str) -> None:
    plain = tmp_path / "german_credit.csv"
    plain.write_bytes(SHARED_DATA.read_bytes())
    compressed = _compress(plain, kind)
    assert compressed.stat().st_size < plain.stat().st_size
    pd.testing.assert_frame_equal(tables.read_table(compressed), tables.read_table(plain))


@pytest.mark.parametrize("kind", KINDS)
def test_a_ragged_compressed_csv_is_refused_naming_its_line(tmp_path: Path, kind: str) -> None:
    lines = SHARED_DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[100] = lines[100].rstrip("\n").rsplit(",", 1)[0] + "\n"  # one field short: pandas would fill it silently
    plain = tmp_path / "ragged.csv"
    plain.write_text("".join(lines), encoding="utf-8")
    compressed = _compress(plain, kind)
    plain_error = pytest.raises(BadInputError, tables.read_table, plain).value
    with pytest.raises(BadInputError) as raised:
        tables.read_table(compressed)
    assert str(raised.value) == tables.ERR_RAGGED_ROW.format(path=compressed, line=101, found=21, expected=22, count=1)
    assert str(raised.value) == str(plain_error).replace(str(plain), str(compressed))


def test_text_that_is_not_utf8_inside_gzip_names_the_line(tmp_path: Path) -> None:
    plain = tmp_path / "latin1.csv"
    plain.write_bytes("a,b\n1,x\n2,caf\xe9\n".encode("latin-1"))
    compressed = _compress(plain, "gz")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(compressed)
    assert str(raised.value) == tables.ERR_NOT_UTF8.format(path=compressed, byte=0xE9, line=3, column=6)


def test_a_corrupt_gzip_is_one_line_naming_the_file(tmp_path: Path) -> None:
    plain = tmp_path / "german.csv"
    plain.write_bytes(SHARED_DATA.read_bytes())
    compressed = _compress(plain, "gz")
    compressed.write_bytes(compressed.read_bytes()[: compressed.stat().st_size // 2])  # truncated download
    with pytest.raises(BadInputError) as raised:
        tables.read_table(compressed)
    message = str(raised.value)
    assert message.startswith(f"{compressed}: cannot be decompressed as gzip: ") and "\n" not in message


def test_an_empty_csv_inside_gzip_is_refused_as_empty(tmp_path: Path) -> None:
    plain = tmp_path / "empty.csv"
    plain.write_bytes(b"")
    compressed = _compress(plain, "gz")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(compressed)
    assert str(raised.value) == tables.ERR_EMPTY_FILE.format(path=compressed)


def test_a_zip_of_two_files_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "two.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("a.csv", "x,y\n1,2\n")
        archive.writestr("b.csv", "x,y\n3,4\n")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(target)
    assert str(raised.value) == tables.ERR_ZIP_MEMBERS.format(path=target, count=2, names="a.csv, b.csv")


@pytest.mark.parametrize("name", ["data.txt", "data.gz", "data.parquet.gz", "data.json"])
def test_other_formats_are_still_refused(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(b"x")
    with pytest.raises(BadInputError) as raised:
        tables.read_table(target)
    assert "expected a .csv or .parquet file" in str(raised.value)
