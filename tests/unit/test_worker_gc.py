"""The worker's collector settings (hub/worker.py `tune_gc`)."""

from __future__ import annotations

import gc

from hub.worker import GC_THRESHOLD_0, tune_gc


def test_start_up_objects_are_frozen_and_the_first_generation_is_larger() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 0  # the modules loaded by now are left out of scans
        assert gc.get_threshold() == (GC_THRESHOLD_0, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
