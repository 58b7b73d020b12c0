"""Two threads appending to one audit log at once, trying to meet between reading the head and inserting.

Shared by the SQLite and the Postgres audit-log tests: with the log's write lock
the second append waits for the first to commit; without it both read the same head.
"""

from __future__ import annotations

import threading

from pipelines.governance import audit_log

MODEL = "fairgate-credit-default"


def race_two_appends(log, monkeypatch) -> tuple[int, list]:
    """Run the race; return how many threads reached the meeting point together, and what each append raised."""
    barrier = threading.Barrier(2, timeout=1.0)
    met: list[bool] = []
    real_now = audit_log._utc_now

    def meet() -> str:  # called inside append, after the head was read, before the insert
        try:
            barrier.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            pass
        return real_now()

    monkeypatch.setattr(audit_log, "_utc_now", meet)
    errors: list = [None, None]

    def append(index: int) -> None:
        try:
            log.append(
                "approval",
                f"cli:approver{index}",
                {"reason": "ok"},
                model_name=MODEL,
                model_version=1,
                idempotency_key=f"approval-{index}",
            )
        except Exception as e:  # noqa: BLE001 - the test reports what each append raised
            errors[index] = e

    threads = [threading.Thread(target=append, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return len(met), errors
