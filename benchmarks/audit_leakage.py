"""Audit and leakage checks at growing sizes: seconds per check family, peak memory, ratio to a plain scan.

Usage: ``python -m benchmarks.audit_leakage [--rows 100000 1000000 5000000]``.

For each size N, a temporary folder receives two Parquet files of generated
credit data (12 columns): ``data.parquet``, N loan applications decided over
ten months, and ``reference.parquet``, N applications of the ten months
before.  Both come straight from the seeded generator (rows_per_month = N /
10): tiling or resampling its output would repeat rows and ids, and the
checks would then time their blocking path instead of the clean one.

Each size runs in its own process, so its peak memory is its own.  The
process imports everything first (not timed), reads both files with
``pipelines.core.tables.read_table`` (timed apart), runs a plain pandas scan of
``data.parquet`` (null counts, min/max and means of the numeric columns,
value counts of the others), then the checks as ``fairgate check data.parquet
--reference reference.parquet`` runs them: the encodings of both frames, the
audit (profile, Great Expectations, mixed types, drift), the out-of-time split
and the leakage checks, each family timed.  Nothing is asserted: the targets
are printed next to the figures.

Peak memory is the process's maximum resident memory (``ru_maxrss``).  The
figure compared with the data is its growth above the peak reached once
everything is imported and the checks have run once on 2,000 generated rows
(so the code they load lazily is not counted as data), against the in-memory
size (``memory_usage(deep=True)``) of both frames; it includes reading the
files.  The part of it the checks add on top of the data already read (peak
minus the resident memory just before the checks) is printed as well.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100_000, 1_000_000, 5_000_000)
TARGET_SECONDS_1M = 10.0
TARGET_SCAN_RATIO = 30.0
TARGET_GROWTH_1M_TO_5M = 5.5
TARGET_MEMORY_RATIO = 4.0
MONTHS = 10
AUDIT_FAMILIES = ("profile", "expectations", "mixed_types", "drift")
LEAKAGE_FAMILIES = ("temporal", "target_leakage", "label_copy", "contamination", "identifier_like", "proxy")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_mb() -> float:
    """Resident memory now (Linux ``/proc``; elsewhere the peak so far, an upper bound)."""
    statm = Path("/proc/self/statm")
    if statm.is_file():
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return _peak_mb()


def generate(folder: Path, rows: int) -> None:
    """Write ``reference.parquet`` and ``data.parquet``: ``rows`` generated applications each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.core.config import GeneratorSettings
    from pipelines.data.generator import generate_month, month_range

    settings = GeneratorSettings(rows_per_month=max(50, rows // MONTHS))
    months = month_range("2024-01", 2 * MONTHS)
    for name, chosen in (("reference.parquet", months[:MONTHS]), ("data.parquet", months[MONTHS:])):
        writer = None
        for month in chosen:
            table = pa.Table.from_pandas(generate_month(month, settings).frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(folder / name, table.schema)
            writer.write_table(table)
        assert writer is not None
        writer.close()


def plain_scan(frame: Any) -> float:
    """Seconds of a plain pandas profile: null counts, min/max and means of numbers, value counts of the rest."""
    started = time.perf_counter()
    numbers = frame.select_dtypes("number")
    frame.isna().sum()
    numbers.min()
    numbers.max()
    numbers.mean()
    for column in frame.columns:
        if column not in numbers.columns:
            frame[column].value_counts()
    return time.perf_counter() - started


def _warm_up(config: Any) -> None:
    """Read a small Parquet file and run every check once on 2,000 generated rows.

    What they load lazily (code, Arrow's reader thread pools and their
    per-thread allocator heaps) is the same at any size and is not data memory.
    """
    import pandas as pd

    from pipelines.core.config import GeneratorSettings
    from pipelines.core.tables import read_table
    from pipelines.data.audit import audit_dataset
    from pipelines.data.generator import generate_month
    from pipelines.data.leakage import find_leakage
    from pipelines.data.split import holdout_mask

    settings = GeneratorSettings(rows_per_month=1000)
    reference = generate_month("2023-01", settings).frame
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-warm-up-") as scratch:
        small = Path(scratch) / "data.parquet"
        generate_month("2023-02", settings).frame.to_parquet(small, index=False)
        data = read_table(small)
    audit_dataset(data, reference, config.dataset, config.audit)
    frame = pd.concat([reference, data], ignore_index=True)
    find_leakage(frame, config.dataset, config.leakage, holdout_mask(frame, config.dataset, config.split))


def measure(folder: Path) -> dict[str, Any]:
    """Run the checks once on the files in ``folder``; return the figures (this process only)."""
    import great_expectations  # noqa: F401  (its import is not the checks' cost)

    from pipelines.core.config import load_config
    from pipelines.core.tables import read_table
    from pipelines.data.audit import audit_dataset
    from pipelines.data.columns import EncodedFrame
    from pipelines.data.leakage import find_leakage
    from pipelines.data.split import holdout_mask

    config = load_config(REPO / "fairgate.yaml")
    _warm_up(config)
    baseline_mb = _peak_mb()
    started = time.perf_counter()
    data = read_table(folder / "data.parquet")
    reference = read_table(folder / "reference.parquet")
    read_seconds = time.perf_counter() - started
    data_mb = (data.memory_usage(deep=True).sum() + reference.memory_usage(deep=True).sum()) / 2**20
    scan_seconds = min(plain_scan(data) for _ in range(2))
    before_checks_mb = _current_mb()

    # columns are encoded where first needed, inside the families (as in fairgate check)
    families: dict[str, float] = {}
    encoded, reference_encoded = EncodedFrame(data), EncodedFrame(reference)
    audit = audit_dataset(
        data,
        reference,
        config.dataset,
        config.audit,
        encoded=encoded,
        reference_encoded=reference_encoded,
        timings=families,
    )
    started = time.perf_counter()
    is_test = holdout_mask(data, config.dataset, config.split)
    families["split"] = time.perf_counter() - started
    leakage = find_leakage(data, config.dataset, config.leakage, is_test, encoded=encoded, timings=families)
    return {
        "rows": len(data),
        "read_seconds": read_seconds,
        "scan_seconds": scan_seconds,
        "families": families,
        "check_seconds": sum(families.values()),
        "data_mb": data_mb,
        "baseline_mb": baseline_mb,
        "before_checks_mb": before_checks_mb,
        "peak_mb": _peak_mb(),
        "verdicts": {"audit": audit.report.verdict, "leakage": leakage.verdict},
    }


def run_size(rows: int) -> dict[str, Any]:
    """Generate the files of one size and measure them in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="fairgate-bench-audit-") as scratch:
        folder = Path(scratch)
        generate(folder, rows)
        completed = subprocess.run(
            [sys.executable, "-m", "benchmarks.audit_leakage", "--measure", str(folder)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"the measurement at {rows} rows failed:\n{completed.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len("BENCH ") :]))


def _row(label: str, values: list[str]) -> str:
    return f"{label:<30}" + "".join(f"{v:>16}" for v in values)


def run_audit_leakage_bench(sizes: list[int] | tuple[int, ...] = DEFAULT_SIZES) -> list[dict[str, Any]]:
    """Measure the audit and leakage checks at each size and print the figures and the targets.

    Parameters
    ----------
    sizes : sequence of int
        Numbers of rows of the checked file (its reference has as many).

    Returns
    -------
    list of dict
        The figures of each size, as printed.
    """
    results = [run_size(rows) for rows in sizes]
    print("audit + leakage on generated credit data (12 columns; reference of as many rows)")
    print(_row("", [f"{r['rows']:,} rows" for r in results]))
    print(_row("read both files s", [f"{r['read_seconds']:.2f}" for r in results]))
    print(_row("plain scan s", [f"{r['scan_seconds']:.3f}" for r in results]))
    for family in (*AUDIT_FAMILIES, "split", *LEAKAGE_FAMILIES):
        label = "audit" if family in AUDIT_FAMILIES else "leakage" if family in LEAKAGE_FAMILIES else ""
        name = f"{label}: {family}" if label else family
        print(_row(f"  {name} s", [f"{r['families'][family]:.3f}" for r in results]))
    print(_row("audit + leakage s", [f"{r['check_seconds']:.2f}" for r in results]))
    print(_row("ratio to plain scan", [f"{r['check_seconds'] / r['scan_seconds']:.1f}x" for r in results]))
    print(_row("data in memory MB", [f"{r['data_mb']:.0f}" for r in results]))
    print(_row("peak resident MB", [f"{r['peak_mb']:.0f}" for r in results]))
    print(_row("  above imports + warm-up MB", [f"{r['peak_mb'] - r['baseline_mb']:.0f}" for r in results]))
    print(_row("  over data size", [f"{(r['peak_mb'] - r['baseline_mb']) / r['data_mb']:.2f}x" for r in results]))
    checks = [max(0.0, r["peak_mb"] - r["before_checks_mb"]) for r in results]
    print(_row("  of it during the checks MB", [f"{mb:.0f}" for mb in checks]))
    print(_row("  over data size", [f"{mb / r['data_mb']:.2f}x" for mb, r in zip(checks, results, strict=True)]))
    print(_row("verdicts", [f"{r['verdicts']['audit']}/{r['verdicts']['leakage']}" for r in results]))
    by_rows = {r["rows"]: r for r in results}
    one, five = by_rows.get(1_000_000), by_rows.get(5_000_000)
    print("targets:")
    if one is not None:
        ratio = one["check_seconds"] / one["scan_seconds"]
        print(f"  1M rows under {TARGET_SECONDS_1M:g} s: {one['check_seconds']:.2f} s")
        print(f"  1M rows within {TARGET_SCAN_RATIO:g}x the plain scan: {ratio:.1f}x")
    if one is not None and five is not None:
        growth = five["check_seconds"] / one["check_seconds"]
        print(f"  growth 1M -> 5M at most {TARGET_GROWTH_1M_TO_5M:g}x: {growth:.2f}x")
    ratios = ", ".join(f"{r['rows']:,} rows {(r['peak_mb'] - r['baseline_mb']) / r['data_mb']:.2f}x" for r in results)
    print(f"  peak memory above imports and warm-up under {TARGET_MEMORY_RATIO:g}x the data: {ratios}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        sys.stdout.write("BENCH " + json.dumps(measure(args.measure)) + "\n")
        return 0
    run_audit_leakage_bench(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
