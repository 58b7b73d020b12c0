"""Arrow's memory pool: the system allocator, so the memory a check frees goes back to the system.

Arrow's default pool (mimalloc or jemalloc) keeps the pages of freed buffers
for reuse.  Reading a Parquet file of 100,000 generated rows (12 MB as a
frame) then held about 38 MB that no later step used, and every Arrow-backed
temporary of the checks (pandas 3 keeps strings in Arrow) added to it: the
peak of ``fairgate check`` grew to about 4x the data.  The system allocator
returns those pages; ``make bench`` measured the same check times with it and
the peak at 100,000 rows fell from 4.5x to 2.3x the data.
"""

from __future__ import annotations

import os

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def use_system_allocator() -> None:
    """Make Arrow allocate from the system allocator in this process, unless the user chose a pool.

    ``ARROW_DEFAULT_MEMORY_POOL``, when set, is Arrow's own documented choice
    and is left alone.  Buffers already allocated keep their pool, so
    switching is safe at any time.
    """
    if os.environ.get(POOL_VARIABLE):
        return
    import pyarrow as pa  # lazy: a process that never reads a table never loads Arrow

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
