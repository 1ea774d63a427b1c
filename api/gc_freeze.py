"""Keep what a server process built at startup out of the garbage collector's scans, and
collect its young objects less often.

A process that serves the API holds its catalogues, compiled schemas, regulation packs,
the web framework's routes and the imported modules for its whole life: ~130,000 objects
that every full collection of the cyclic garbage collector walks again. The append path
allocates enough to trigger such collections every few batches: they cost ~3 % of a
batched record's CPU (12.5 against 4.7 µs a record with this, bench/RESULTS.md, session
5). `gc.freeze()` moves every object alive at the call into a generation the collector
never scans (what it is for, per the Python documentation); what the process builds
afterwards is collected as before. Called once, at the end of startup, after a full
collection, so that no startup garbage is frozen with them.

The youngest generation is then collected after YOUNG_THRESHOLD net allocations instead
of Python's 700. An append allocates and frees thousands of objects, few of them in
reference cycles; at 700 the collector ran ~50 times a second under the batched
benchmark, scanning a batch's live objects each time (~5 µs a batched record, session
7). At 10,000 it runs ~20 times a minute. Only garbage in cycles waits longer: at most
that many container objects' worth.
"""

from __future__ import annotations

import gc
from typing import Final

#: Net container allocations between two collections of the youngest generation.
YOUNG_THRESHOLD: Final = 10_000


def freeze_what_startup_built() -> None:
    """Collect, then freeze every object alive (once per process, at the end of startup)."""
    gc.collect()
    gc.freeze()


def space_out_young_collections() -> None:
    """Collect the youngest generation every YOUNG_THRESHOLD net allocations; the older
    generations keep their thresholds (relative to the youngest's collections)."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)


def settle_collector_after_startup() -> None:
    """What a process that serves only the API does once its startup is through (once)."""
    freeze_what_startup_built()
    space_out_young_collections()
