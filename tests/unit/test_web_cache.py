"""The instant a cached view is keyed by: the tick under the wall clock, exact under the event
clock (where "now" only moves with clock records)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.settings import Settings
from hub.web.cache import tick_instant

T = datetime(2026, 12, 5, 3, 0, 0, 250_000, tzinfo=UTC)


def test_wall_clock_instants_within_one_tick_share_a_key() -> None:
    cfg = Settings(clock="wall", tick_interval_s=1.0)
    a = tick_instant(T, cfg)
    assert a == datetime(2026, 12, 5, 3, 0, 0, tzinfo=UTC)
    assert tick_instant(T + timedelta(milliseconds=700), cfg) == a
    assert tick_instant(T + timedelta(milliseconds=800), cfg) == a + timedelta(seconds=1)
    assert tick_instant(None, cfg) is None


def test_event_clock_instants_are_kept_exact() -> None:
    cfg = Settings(clock="event", tick_interval_s=1.0)
    assert tick_instant(T, cfg) == T
