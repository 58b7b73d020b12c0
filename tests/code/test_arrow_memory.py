"""Arrow allocates from the system allocator once fairgate reads data, unless the user chose a pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import sys
from pathlib import Path
import pyarrow as pa
from pipelines.core.tables import read_table
before = pa.default_memory_pool().backend_name
frame = read_table(Path(sys.argv[1]))
print(before, pa.default_memory_pool().backend_name, len(frame))
"""


def _probe(path: Path, pool: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if pool is not None:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.fixture
def parquet_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.parquet"
    pd.DataFrame({"x": [1.5, 2.5, 3.5], "s": ["a", "b", "c"]}).to_parquet(path, index=False)
    return path


def test_reading_switches_arrow_to_the_system_allocator(parquet_file: Path) -> None:
    before, after, rows = _probe(parquet_file, None)
    assert before != "system", "the probe must start from Arrow's own default pool to show the switch"
    assert (after, rows) == ("system", "3")


def test_a_pool_the_user_chose_is_left_alone(parquet_file: Path) -> None:
    before, after, _ = _probe(parquet_file, "mimalloc")
    assert before == after == "mimalloc"
