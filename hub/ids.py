"""Identifiers the hub mints: time-ordered UUIDv7 message ids."""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> UUID:
    """A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then a counter and randomness.

    Ids minted in one process sort by creation time, which keeps the outbox and the
    audit log in order and indexes compact.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            _counter = (_counter + 1) & 0xFFF
            if _counter == 0:
                _last_ms += 1
            now_ms = _last_ms
        else:
            _last_ms, _counter = now_ms, int.from_bytes(os.urandom(2), "big") & 0x3FF
        rand_a = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (now_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)
