"""Keep what a server process built at startup out of the garbage collector's scans.

A process that serves the API holds its catalogues, compiled schemas, regulation packs,
the web framework's routes and the imported modules for its whole life: ~130,000 objects
that every full collection of the cyclic garbage collector walks again. The append path
allocates enough to trigger such collections every few batches: they cost ~3 % of a
batched record's CPU (12.5 against 4.7 µs a record with this, bench/RESULTS.md, session
5). `gc.freeze()` moves every object alive at the call into a generation the collector
never scans (what it is for, per the Python documentation); what the process builds
afterwards is collected as before. Called once, at the end of startup, after a full
collection, so that no startup garbage is frozen with them.
"""

from __future__ import annotations

import gc


def freeze_what_startup_built() -> None:
    """Collect, then freeze every object alive (once per process, at the end of startup)."""
    gc.collect()
    gc.freeze()
