"""Findings: the common shape of what the audit, leakage and gate checks report.

A finding is one observation with a severity: ``block`` stops the run,
``warn`` is reported only.  A report collects the findings of one stage and
derives its verdict from them, so no verdict is ever set by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["block", "warn"]


@dataclass(frozen=True)
class Finding:
    """One observation of a check, with the evidence that supports it."""

    check: str
    severity: Severity
    columns: list[str]
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form used by ``fairgate check --json``."""
        return asdict(self)


@dataclass
class CheckReport:
    """The findings of one stage over one table."""

    stage: str
    rows: int
    columns: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Literal["pass", "blocked"]:
        """``blocked`` when any finding blocks, else ``pass``."""
        return "blocked" if any(f.severity == "block" for f in self.findings) else "pass"

    @property
    def blocking(self) -> list[Finding]:
        """The findings that block."""
        return [f for f in self.findings if f.severity == "block"]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form: verdict, findings, rows, columns, notes."""
        return {
            "stage": self.stage,
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "rows": self.rows,
            "columns": self.columns,
            "notes": list(self.notes),
        }
