"""Garbage-collector settings of the long-running processes (the hub, the adapters, a tax push).

These processes build and drop many small objects per message (a 4 MiB payment
part is ~10 000 validated records), while the objects made at start-up (modules,
pydantic schemas, SQLAlchemy metadata, ...) live as long as the process. With
CPython's defaults a young collection runs every 700 allocations and every full
collection walks the whole start-up heap again: at 1 000 000 payment rows that
was 10-20 % of each process's CPU. :func:`settle` is called once start-up is done:

* the start-up heap is collected once and then frozen (:func:`gc.freeze`), so later
  collections do not walk it again;
* young collections run every :data:`YOUNG_THRESHOLD` allocations instead of 700;
  cyclic garbage waits a little longer, reference counting still frees the rest at once.
"""

from __future__ import annotations

import gc

#: Allocations (minus deallocations) of tracked objects between young collections.
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Freeze what start-up made and make young collections rarer; call once, after start-up."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
