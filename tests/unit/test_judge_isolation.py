"""A failure while judging one dossier changes nothing of its state and stops nothing else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from connectors import CONNECTORS
from hub.codec import encode_event
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.protocol import KIND_CLOCK, KIND_EVENT
from hub.settings import ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.state import DossierState
from tests.samples import FILES, lines
from tests.unit.connectors.connector_ctx import make_ctx

NOW = datetime.fromisoformat("2026-12-10T00:00:00+07:00")


class Faulty(Engine):
    """The real engine, made to fail on one dossier (a bug standing in for any bug)."""

    broken: str | None = None

    def evaluate(self, code: str, *args: Any, **kwargs: Any) -> Any:
        if code == self.broken:
            raise RuntimeError(f"a bug judging {code}")
        return super().evaluate(code, *args, **kwargs)


def _events() -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for raw in lines("onestop")[:80]:
        for ev in CONNECTORS["onestop"](raw, make_ctx()).events:
            out.setdefault(ev.dossier_code.encode(), []).append(encode_event(ev))
    return out


@pytest.fixture
def judge() -> Judge:
    cfg = Settings(clock=ClockMode.WALL, allowed_lateness_s=0)
    engine = Faulty(
        WorkingCalendar.from_file(cfg.calendar_file), Catalog.from_file(cfg.catalog_file), 1
    )
    return Judge(cfg, engine, lambda: NOW, {})


def test_a_failing_dossier_is_left_as_it_was(judge: Judge) -> None:
    assert "onestop" in FILES
    events = _events()
    victim, other = [k for k, blobs in events.items() if len(blobs) >= 2][:2]
    judge.handle(KIND_EVENT, 0, victim, events[victim][0])
    stored = judge.table[victim]
    cached = judge.cache.get(victim)
    assert cached is not None and len(cached.events) == 1
    outbox = list(judge.outbox)

    judge.engine.broken = victim.decode()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        judge.handle(KIND_EVENT, 0, victim, events[victim][1])
    assert judge.table[victim] == stored  # stored state unchanged
    again = judge.cache.get(victim)
    assert again is not None and len(again.events) == 1  # cached state unchanged
    assert DossierState.loads(judge.table[victim]).events == again.events
    assert judge.outbox == outbox

    judge.handle(KIND_EVENT, 0, other, events[other][0])  # the others go on
    assert other in judge.table

    judge.engine.broken = None  # type: ignore[attr-defined]
    judge.handle(KIND_EVENT, 0, victim, events[victim][1])  # redelivered once fixed: judged
    fixed = judge.cache.get(victim)
    assert fixed is not None and len(fixed.events) == 2


def test_a_failing_dossier_at_its_deadline_does_not_stop_the_others(judge: Judge) -> None:
    events = _events()
    keys = list(events)[:6]
    for key in keys:
        for blob in events[key]:
            judge.handle(KIND_EVENT, 0, key, blob)
    due = {k for k in keys if (s := judge.cache.get(k)) is not None and s.next_wake_ms}
    assert len(due) >= 2, "the sample dossiers have deadlines ahead"
    victim = sorted(due)[0]
    before = {k: judge.table[k] for k in due}
    judge.engine.broken = victim.decode()  # type: ignore[attr-defined]
    later = Judge(
        judge.settings, judge.engine, lambda: datetime(2027, 6, 1).astimezone(), judge.table
    )
    later.handle(KIND_CLOCK, 0, b"", b'{"wall": 0, "marks": {}}')
    # the others were judged at their deadline (closed ones expired: their state is gone)
    assert all(later.table.get(k) != before[k] for k in due - {victim})
    assert later.table[victim] == before[victim]
    assert later.metrics.registry.get_sample_value("motcua_judge_failures_total") == 1


def test_an_unreadable_stored_state_is_skipped_not_fatal(judge: Judge) -> None:
    events = _events()
    key = next(iter(events))
    judge.table[key] = b"\x02garbage"
    judge.table[b"\x00clock/0"] = b"{not json"
    judge.handle(KIND_EVENT, 0, key, events[key][0])  # starts afresh
    assert len(DossierState.loads(judge.table[key]).events) == 1
    skipped = judge.metrics.registry.get_sample_value(
        "motcua_internal_records_skipped_total", {"topic": "changelog"}
    )
    assert skipped is not None and skipped >= 1
