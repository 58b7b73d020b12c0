"""The two ways a fairgate step says no, with the exit codes the CLI uses.

``BadInputError`` (exit 2): the input or the configuration is wrong; nothing
was written.  ``BlockedError`` (exit 1): the pipeline worked and a check said
no.  Any other exception is a bug and surfaces as a traceback.
"""

from __future__ import annotations

# every command's exit codes: passed, blocked (a check said no), bad input, crashed (a bug or a broken tool)
EXIT_PASSED, EXIT_BLOCKED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class FairgateError(Exception):
    """Base of the errors that the CLI turns into one line and an exit code."""

    exit_code = 2


class BadInputError(FairgateError):
    """Bad usage, bad configuration or bad data: one line naming the problem."""

    exit_code = 2


class BlockedError(FairgateError):
    """A check ran and refused: the run stops before anything is promoted."""

    exit_code = 1

    def __init__(self, stage: str, reasons: list[str]) -> None:
        self.stage = stage
        self.reasons = list(reasons)
        super().__init__(f"blocked at {stage}: " + "; ".join(self.reasons))
