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
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from hub.codec import encode_event
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source
from hub.domain.stats import summarize
from hub.settings import DATA_DIR
from hub.stream.state import DossierState

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = "000.00.12.H49-261103-0001"
T0 = datetime(2026, 11, 3, 8, 30, tzinfo=TZ)
NOW = T0 + timedelta(days=3000)
GAP = timedelta(hours=7)  # between events
PAIRED = ("pause", "land-pause", "tax")  # kinds whose events go in pairs: a pause and its end
HUB = str(Path(__file__).resolve().parents[2] / "hub")
N = 120
FACTOR = 6  # 4x the events; n log n in C and a few constant costs stay well under 6x


def _snapshot() -> DossierEvent:
    return DossierEvent(
        event_id="snapshot",
        source=Source.ONESTOP,
        kind=EventKind.SNAPSHOT,
        dossier_code=CODE,
        event_time=T0,
        status=2,
        first_sync=True,
        received_at=T0,
        appointment_at=T0 + timedelta(days=14),
        procedure_code="1.013831",
        unit_name="Chi nhánh VPĐKĐĐ Thăng Bình",
    )


def _item(kind: str, i: int) -> DossierEvent:
    at = T0 + GAP * (i + 1)
    if kind in PAIRED:  # a pause each night, 16:00 to 08:00: each moves the due date a day
        at = T0.replace(hour=16, minute=0) + timedelta(days=i // 2 + 1, hours=16 * (i % 2))
    base: dict[str, Any] = {"event_id": f"{kind}-{i}", "dossier_code": CODE, "event_time": at}
    holder = {"holder_unit": f"Phòng {i % 7}", "holder_officer": f"cb.{i % 5}"}
    deadline = at + timedelta(hours=(i % 3) * 20 + 1)
    if kind == "apology":
        return DossierEvent(source=Source.ONESTOP, kind=EventKind.APOLOGY, apology_at=at, **base)
    if kind == "step":
        return DossierEvent(
            source=Source.ONESTOP,
            kind=EventKind.STEP,
            status=4,
            step_deadline=deadline,
            **holder,
            **base,
        )
    if kind == "land":
        return DossierEvent(
            source=Source.LAND,
            kind=EventKind.LAND_HANDOVER,
            step_deadline=deadline,
            **holder,
            **base,
        )
    if kind == "pause":
        return DossierEvent(
            source=Source.ONESTOP,
            kind=EventKind.STEP,
            status=5 if i % 2 == 0 else 4,
            **holder,
            **base,
        )
    if kind == "land-pause":
        land_kind = (
            EventKind.LAND_SUPPLEMENT_REQUESTED
            if i % 2 == 0
            else EventKind.LAND_SUPPLEMENT_RECEIVED
        )
        return DossierEvent(source=Source.LAND, kind=land_kind, pause=True, **base)
    if kind == "tax":
        tax_kind = EventKind.TAX_NOTICE_ISSUED if i % 2 == 0 else EventKind.TAX_PAID
        return DossierEvent(source=Source.TAX, kind=tax_kind, notice_no=f"TB-{i // 2}", **base)
    if kind == "closings":  # sectoral closings, each an UNREPORTED_COMPLETION
        return DossierEvent(
            source=Source.CIVIL,
            kind=EventKind.CIVIL,
            civil_status=CivilStatus.TU_CHOI,
            **holder,
            **base,
        )
    kinds = ("apology", "step", "land", "pause", "land-pause", "tax")  # and the dossier open
    return _item(kinds[i % len(kinds)], i)


KINDS = ("apology", "step", "land", "pause", "land-pause", "tax", "closings", "mixed")


def _dossier(kind: str, n: int) -> list[tuple[DossierEvent, bytes]]:
    events = [_snapshot(), *(_item(kind, i) for i in range(n - 1))]
    return [(ev, encode_event(ev)) for ev in events]


def _judge_once(events: list[tuple[DossierEvent, bytes]]) -> None:
    state = DossierState(0)
    for ev, blob in events:
        if not state.has(ev):
            state.add(ev, blob)
    result = ENGINE.evaluate(CODE, state.events, state.emitted, NOW, NOW)
    assert result.facts is not None
    summarize(result.facts, CAL, 1)


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
