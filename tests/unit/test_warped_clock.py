"""The warped wall clock (the demo's shared simulated time) and its settings."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from hub.domain.calendar import TZ
from hub.errors import ConfigError
from hub.settings import load_settings
from hub.stream.clock import WarpedClock, clock_from_settings, system_clock

ORIGIN = datetime(2026, 11, 2, 7, 0, tzinfo=TZ)


def test_runs_speed_times_as_fast_from_the_origin() -> None:
    at = datetime.fromtimestamp(1_800_000_000, TZ)
    clock = WarpedClock(600.0, ORIGIN, at)
    assert clock.at_wall(at.timestamp()) == ORIGIN
    assert clock.at_wall(at.timestamp() + 2) == ORIGIN + timedelta(minutes=20)
    assert clock.at_wall(at.timestamp() - 1) == ORIGIN - timedelta(minutes=10)
    assert clock.wall_of(ORIGIN + timedelta(hours=1)) == pytest.approx(at.timestamp() + 6)


def test_origin_at_defaults_to_now() -> None:
    clock = WarpedClock(3600.0, ORIGIN)
    assert abs((clock() - ORIGIN).total_seconds()) < 3600 * 0.5
    plain = WarpedClock(1.0)
    assert abs(plain().timestamp() - time.time()) < 0.5


@pytest.mark.parametrize("speed", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_speed(speed: float) -> None:
    with pytest.raises(ValueError):
        WarpedClock(speed, ORIGIN)


def test_naive_origin_refused() -> None:
    with pytest.raises(ValueError):
        WarpedClock(2.0, datetime(2026, 11, 2, 7, 0))


def test_settings_build_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MOTCUA_CLOCK_SPEED", "MOTCUA_CLOCK_ORIGIN", "MOTCUA_CLOCK_ORIGIN_AT"):
        monkeypatch.delenv(name, raising=False)
    assert clock_from_settings(load_settings()) is system_clock

    monkeypatch.setenv("MOTCUA_CLOCK_SPEED", "1800")
    monkeypatch.setenv("MOTCUA_CLOCK_ORIGIN", "2026-11-02T07:00:00+07:00")
    monkeypatch.setenv("MOTCUA_CLOCK_ORIGIN_AT", "2030-01-01T00:00:00+00:00")
    clock = clock_from_settings(load_settings())
    assert isinstance(clock, WarpedClock)
    assert clock.speed == 1800.0
    assert clock.at_wall(datetime(2030, 1, 1, 0, 0, 1, tzinfo=TZ).timestamp()) < ORIGIN
    assert clock.wall_of(ORIGIN) == datetime.fromisoformat("2030-01-01T00:00:00+00:00").timestamp()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MOTCUA_CLOCK_SPEED": "0"}, "MOTCUA_CLOCK_SPEED"),
        ({"MOTCUA_CLOCK_SPEED": "inf"}, "MOTCUA_CLOCK_SPEED"),
        ({"MOTCUA_CLOCK_SPEED": "fast"}, "MOTCUA_CLOCK_SPEED"),
        ({"MOTCUA_CLOCK_ORIGIN": "2026-11-02T07:00:00"}, "MOTCUA_CLOCK_ORIGIN"),
        ({"MOTCUA_CLOCK_ORIGIN_AT": "2026-11-02T07:00:00+07:00"}, "MOTCUA_CLOCK_ORIGIN_AT"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for name in ("MOTCUA_CLOCK_SPEED", "MOTCUA_CLOCK_ORIGIN", "MOTCUA_CLOCK_ORIGIN_AT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()
