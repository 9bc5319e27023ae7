"""A judge restarted long after its watermark last changed keeps the event clock it had.

The stored watermark is written only when it changes, so its marks' times say when they last
changed, not when they were last reported. A worker killed and started again a minute later
(kill -9, then the group's session timeout, twice) once read those times as "not reported for
a minute": its first clock record, sent before its intake had partitions, named no mark, every
stored mark was forgotten with its high, and the new intake, with nothing left to read, reported
none. The partition's clock stopped, and every alert still due on it was never sent (the kill -9
fault test lost 52 alerts on two partitions)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.domain.calendar import TZ
from hub.protocol import ClockRecord, encode_clock
from hub.settings import Settings
from hub.testing import dict_judge

KEYS = [f"agency.onestop.status:{p}" for p in range(3)]
HIGH = int(datetime(2026, 11, 20, tzinfo=TZ).timestamp() * 1000)


def _record(wall: datetime, marks: dict[str, list[int | bool | None]]) -> bytes:
    return encode_clock(ClockRecord(int(wall.timestamp() * 1000), len(KEYS), marks))


def test_a_restart_after_the_stale_age_keeps_the_stored_highs() -> None:
    cfg = Settings(clock="event", idle_timeout_s=3, max_event_lead_s=100 * 365 * 86_400)
    wall = datetime(2026, 12, 5, 5, 50, tzinfo=TZ)
    table: dict[bytes, bytes] = {}
    first = dict_judge(cfg, clock=lambda: wall, table=table)
    first.on_clock(0, _record(wall, {k: [HIGH - i, False, False] for i, k in enumerate(KEYS)}))
    assert first.now_ms(0) == HIGH - 2

    # the same table, read by a worker started two minutes later (past the 60 s stale age)
    later = wall + timedelta(minutes=2)
    again = dict_judge(cfg, clock=lambda: later, table=table)
    again.on_clock(0, _record(later, {}))  # its intake has no partitions yet
    assert again.now_ms(0) == HIGH - 2
    # its intake took the partitions: everything was read before, so no high, and waiting
    again.on_clock(0, _record(later, {k: [None, False, True] for k in KEYS}))
    assert again.now_ms(0) == HIGH - 2
    # nothing comes: the partitions turn idle, and the clock goes to the latest high
    again.on_clock(0, _record(later, {k: [None, True, False] for k in KEYS}))
    assert again.now_ms(0) == HIGH


def test_a_mark_nobody_reports_is_still_forgotten_after_the_stale_age() -> None:
    cfg = Settings(clock="event", idle_timeout_s=3, max_event_lead_s=100 * 365 * 86_400)
    wall = datetime(2026, 12, 5, 5, 50, tzinfo=TZ)
    table: dict[bytes, bytes] = {}
    first = dict_judge(cfg, clock=lambda: wall, table=table)
    first.on_clock(0, _record(wall, {k: [HIGH, False, False] for k in KEYS}))
    later = wall + timedelta(minutes=2)
    again = dict_judge(cfg, clock=lambda: later, table=table)
    again.on_clock(0, _record(later, {}))
    gone = later + timedelta(seconds=61)  # a minute after the restart, still never reported
    again.clock = lambda: gone
    again.on_clock(0, _record(gone, {k: [HIGH, False, False] for k in KEYS[1:]}))
    marks = again._watermark(0).marks
    assert set(marks) == set(KEYS[1:])  # the unreported one no longer holds the watermark
