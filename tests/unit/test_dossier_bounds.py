"""A dossier holds at most MOTCUA_MAX_EVENTS_PER_DOSSIER events and MOTCUA_MAX_DOSSIER_BYTES of
stored event bytes: one more is refused (`DossierFull`, a TOO_LARGE dead letter), the dossier is
left as it was and counted, and redeliveries of what it holds are still mere duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hub.codec import encode_event
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent, EventKind, Source
from hub.errors import DeadLetterError
from hub.protocol import KIND_EVENT
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.state import Bounds, DossierFull, DossierState

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = "000.00.12.H49-261103-0001"
T0 = datetime(2026, 11, 3, 8, 30, tzinfo=TZ)
NOW = datetime(2026, 12, 10, tzinfo=TZ)


def step(i: int, note: str | None = None) -> tuple[DossierEvent, bytes]:
    ev = DossierEvent(
        event_id=f"step-{i}",
        source=Source.ONESTOP,
        kind=EventKind.STEP,
        dossier_code=CODE,
        event_time=T0 + timedelta(hours=i),
        status=4,
        holder_unit="Tổ thẩm định",
        note=note,
    )
    return ev, encode_event(ev)


def judge(**bounds: int) -> Judge:
    cfg = Settings(clock=ClockMode.WALL, allowed_lateness_s=0, **bounds)  # type: ignore[arg-type]
    return Judge(cfg, ENGINE, lambda: NOW, {})


# -- the state ----------------------------------------------------------------------------------
def test_an_event_past_the_count_is_refused_and_changes_nothing() -> None:
    bounds = Bounds(max_events=10, max_bytes=1 << 20)
    state = DossierState(0)
    for i in range(10):
        state.add(*step(i), bounds, CODE)
    before = state.dumps()
    with pytest.raises(DossierFull) as refused:
        state.add(*step(10), bounds, CODE)
    assert isinstance(refused.value, DeadLetterError) and refused.value.reason == "TOO_LARGE"
    message = str(refused.value)
    assert CODE in message and "10 events" in message
    assert "MOTCUA_MAX_EVENTS_PER_DOSSIER" in message
    assert state.dumps() == before and len(state.events) == len(state.blobs) == 10
    assert state.has(step(3)[0])  # what it holds is still recognised


def test_an_event_past_the_bytes_is_refused_and_changes_nothing() -> None:
    """A few steps with 400 KB notes would make the stored state larger than a Kafka record."""
    bounds = Bounds(max_events=1000, max_bytes=262_144)
    state = DossierState(0)
    state.add(*step(0, "x" * 200_000), bounds, CODE)
    before = state.dumps()
    with pytest.raises(DossierFull) as refused:
        state.add(*step(1, "y" * 400_000), bounds, CODE)
    message = str(refused.value)
    assert CODE in message and "MOTCUA_MAX_DOSSIER_BYTES" in message and "1 event" in message
    assert state.dumps() == before
    state.add(*step(2, "small"), bounds, CODE)  # what fits still goes in
    assert len(state.events) == 2


def test_a_state_loaded_from_the_table_keeps_counting_its_bytes() -> None:
    bounds = Bounds(max_events=1000, max_bytes=20_000)
    state = DossierState(0)
    state.add(*step(0, "x" * 15_000), bounds, CODE)
    again = DossierState.loads(state.dumps())
    with pytest.raises(DossierFull):
        again.add(*step(1, "y" * 6_000), bounds, CODE)


def test_without_bounds_nothing_is_refused() -> None:
    state = DossierState(0)
    for i in range(50):
        state.add(*step(i))
    assert len(state.events) == 50


# -- the judge ----------------------------------------------------------------------------------
def test_the_judge_refuses_the_event_past_the_bound_and_counts_the_dossier() -> None:
    j = judge(max_events_per_dossier=10)
    key = CODE.encode()
    for i in range(10):
        j.handle(KIND_EVENT, 0, key, step(i)[1])
    stored = j.table[key]
    with pytest.raises(DossierFull) as refused:
        j.handle(KIND_EVENT, 0, key, step(10)[1])
    assert refused.value.reason == "TOO_LARGE"
    assert CODE in str(refused.value) and "MOTCUA_MAX_EVENTS_PER_DOSSIER" in str(refused.value)
    assert j.table[key] == stored  # the dossier is left as it was
    cached = j.cache.get(key)
    assert cached is not None and len(cached.events) == 10
    full = j.metrics.registry.get_sample_value("motcua_full_dossiers")
    assert full == 1
    # a second refusal of the same dossier counts it once
    with pytest.raises(DossierFull):
        j.handle(KIND_EVENT, 0, key, step(11)[1])
    assert j.metrics.registry.get_sample_value("motcua_full_dossiers") == 1


def test_a_redelivery_to_a_full_dossier_is_a_duplicate_not_a_refusal() -> None:
    j = judge(max_events_per_dossier=10)
    key = CODE.encode()
    for i in range(10):
        j.handle(KIND_EVENT, 0, key, step(i)[1])
    assert j.handle(KIND_EVENT, 0, key, step(4)[1]) == []
    duplicates = j.metrics.registry.get_sample_value(
        "motcua_duplicate_events_total", {"source": "onestop"}
    )
    assert duplicates == 1
    assert j.metrics.registry.get_sample_value("motcua_full_dossiers") == 0


def test_the_judge_bounds_the_stored_bytes_from_the_settings() -> None:
    j = judge(max_dossier_bytes=262_144)
    key = CODE.encode()
    j.handle(KIND_EVENT, 0, key, step(0, "x" * 200_000)[1])
    with pytest.raises(DossierFull, match="MOTCUA_MAX_DOSSIER_BYTES"):
        j.handle(KIND_EVENT, 0, key, step(1, "y" * 400_000)[1])
    assert len(j.table[key]) < 262_144
