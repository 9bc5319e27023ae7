"""Judging a dossier costs about linearly in its events, whatever kind they are.

A hostile or broken feed can pile thousands of events on one dossier; an evaluation quadratic in
them held the judge for minutes. The cost is measured as the Python lines the hub executes
(a `sys.settrace` counter), never as time: adding n events to a `DossierState` and evaluating it
once (the engine with every alert due, and the statistics summary) must cost about 4 times as
much for 4n events, not 16 times. Sorting and bisecting run in C and count as one line: the
counter sees the loops, which is where quadratic work hides.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent
from hub.settings import DATA_DIR
from hub.stream.state import DossierState
from hub.testing import BIG_KINDS, BIG_T0, big_dossier, judge_once

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
NOW = BIG_T0 + timedelta(days=3000)
HUB = str(Path(__file__).resolve().parents[2] / "hub")
N = 120
FACTOR = 6  # 4x the events; n log n in C and a few constant costs stay well under 6x
KINDS = BIG_KINDS
_dossier = big_dossier


def _judge_once(events: list[tuple[DossierEvent, bytes]]) -> None:
    judge_once(events, ENGINE, NOW)


def lines_run(work: Callable[[], None], roots: tuple[str, ...] = (HUB,)) -> int:
    """How many lines of the code under `roots` (default: hub/) `work` executes."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(roots) else None

    sys.settrace(calls)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("kind", KINDS)
def test_adding_and_evaluating_costs_linear_operations(kind: str) -> None:
    small, large = _dossier(kind, N), _dossier(kind, 4 * N)
    _judge_once(small)  # warm the calendar's caches, whatever they are
    cost_small = lines_run(lambda: _judge_once(small))
    cost_large = lines_run(lambda: _judge_once(large))
    assert cost_large <= FACTOR * cost_small, (kind, cost_small, cost_large)


def test_the_counter_sees_quadratic_work() -> None:
    """The measure itself: a loop in a loop over the events is caught."""

    def quadratic(n: int) -> Callable[[], None]:
        def run() -> None:
            state = DossierState(0)
            for ev, blob in _dossier("apology", n):
                state.add(ev, blob)
            for a in state.events:
                for b in state.events:
                    if a is b:
                        break

        return run

    roots = (HUB, __file__)
    assert lines_run(quadratic(4 * N), roots) > FACTOR * lines_run(quadratic(N), roots)
