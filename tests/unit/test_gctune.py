"""The garbage-collector settings of the long-running processes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from hub import gctune


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_the_start_up_heap_and_makes_young_collections_rarer() -> None:
    _, middle, old = gc.get_threshold()
    gc.unfreeze()

    gctune.settle()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (gctune.YOUNG_THRESHOLD, middle, old)
    assert gc.isenabled()
