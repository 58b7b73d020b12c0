"""The Airflow process ``fairgate run`` starts, and how stopping ``fairgate run`` stops it.

The child (``airflow dags test``) runs in its own session, so its process
group holds it and everything it starts.  While it runs, SIGTERM or SIGINT to
``fairgate run`` interrupts that group with SIGINT; the child then has
:data:`STOP_GRACE_SECONDS` to end before the group is killed (SIGKILL); a
second signal kills it at once.

SIGINT, not SIGTERM, is what reaches the group: Airflow's in-process task
runner (``dags test``) answers SIGTERM by calling the operator's ``on_kill``
and carrying on with the task, so under SIGTERM the run would go on through
its stages, promotion included, until the SIGKILL.  SIGINT interrupts the
task where it is (its stage records ``crashed: KeyboardInterrupt``); ``dags
test`` then waits for the task's retry (a minute away), which the SIGKILL at
the end of the grace forestalls.  SIGINT is also the first step of Airflow's
own escalation (SIGINT, SIGTERM, SIGKILL).  Once a stopped or killed child has ended,
whatever it left in its group is killed too: a stopped run leaves no process
behind.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
FORWARDED_SIGNAL = signal.SIGINT
STOP_GRACE_SECONDS = 10.0  # a bound, not a tunable: a stopped Airflow process is killed after it
_POLL_SECONDS = 0.2

STOPPED_BY_SIGNAL = "fairgate run received {signal} and interrupted the Airflow process group (SIGINT)"
STOPPED_KILLED_AFTER_GRACE = "; the group did not end within {grace:g} s and was killed (SIGKILL)"
KILLED_FROM_OUTSIDE = "the Airflow process was killed by {signal}"


@dataclass(frozen=True)
class ChildEnd:
    """How the Airflow child ended: its exit status, and the stop signal ``fairgate run`` forwarded."""

    returncode: int
    stop_signal: int | None
    killed_after_grace: bool

    def stopped_because(self) -> str | None:
        """Why the child was stopped before its run could end (None: it ended on its own)."""
        if self.stop_signal is not None:
            why = STOPPED_BY_SIGNAL.format(signal=signal.Signals(self.stop_signal).name)
            if self.killed_after_grace:
                why += STOPPED_KILLED_AFTER_GRACE.format(grace=STOP_GRACE_SECONDS)
            return why
        if self.returncode < 0:
            return KILLED_FROM_OUTSIDE.format(signal=signal.Signals(-self.returncode).name)
        return None


def signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to a process group; False when the group holds no process any more."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


def run_airflow_child(
    argv: list[str], env: dict[str, str], log_file: Path, cwd: Path, on_poll: Callable[[], None] | None = None
) -> ChildEnd:
    """Run ``argv`` in its own process group, output to ``log_file``; a stop signal interrupts the group.

    ``on_poll`` is called while the child runs (every :data:`_POLL_SECONDS`)
    and once after it ended: ``fairgate run`` prints each stage as it finishes.
    """
    received: list[int] = []
    group: list[int] = []  # the child's process group, once it exists

    def on_stop_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if group:
            # the first signal asks the run to stop; a second one does not wait
            signal_group(group[0], FORWARDED_SIGNAL if len(received) == 1 else signal.SIGKILL)

    previous = {s: signal.signal(s, on_stop_signal) for s in STOP_SIGNALS}
    try:
        with log_file.open("w", encoding="utf-8") as handle:
            child = subprocess.Popen(
                argv, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
            )
        group.append(child.pid)
        if received:  # a signal that came before the child existed
            signal_group(child.pid, FORWARDED_SIGNAL)
        returncode, killed = _wait_bounded(child, received, on_poll)
        if on_poll is not None:
            on_poll()  # what the last poll did not see yet
        if received or returncode < 0:
            # the child is gone; what it started must not outlive the stopped run
            signal_group(child.pid, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return ChildEnd(returncode, received[0] if received else None, killed)


def _wait_bounded(
    child: subprocess.Popen[bytes], received: list[int], on_poll: Callable[[], None] | None = None
) -> tuple[int, bool]:
    """Wait for the child; once a stop signal came, at most :data:`STOP_GRACE_SECONDS`, then kill its group."""
    deadline: float | None = None
    killed = False
    while True:
        try:
            return child.wait(timeout=_POLL_SECONDS), killed
        except subprocess.TimeoutExpired:
            pass
        if on_poll is not None:
            on_poll()
        if received and deadline is None:
            deadline = time.monotonic() + STOP_GRACE_SECONDS
        if deadline is not None and not killed and time.monotonic() >= deadline:
            logger.warning("the Airflow process group %s did not stop within %s s: killed", child.pid,
                           STOP_GRACE_SECONDS)
            signal_group(child.pid, signal.SIGKILL)
            killed = True
