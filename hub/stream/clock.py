"""The injected clock: wall time in production, any callable in tests and replays.

`clock_from_settings` builds a worker's clock: the wall clock, or a *warped* wall clock that runs
`MOTCUA_CLOCK_SPEED` times as fast from `MOTCUA_CLOCK_ORIGIN` (the simulated time at the wall
instant `MOTCUA_CLOCK_ORIGIN_AT`, by default the moment the process builds its clock). The demo
gives the worker and the simulator the same three values, so both share one simulated "now".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from hub.domain.calendar import TZ
from hub.settings import Settings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(TZ)


class WarpedClock:
    """Simulated time: `origin` at the wall instant `origin_at`, running `speed` times as fast
    as the wall clock (before `origin_at` it reads earlier than `origin`)."""

    def __init__(
        self, speed: float, origin: datetime | None = None, origin_at: datetime | None = None
    ) -> None:
        if not speed > 0 or speed == float("inf"):
            raise ValueError(f"the clock speed must be a finite number > 0, got {speed}")
        for name, value in (("origin", origin), ("origin_at", origin_at)):
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"the clock {name} must carry a UTC offset: {value}")
        self.speed = speed
        self._wall0 = origin_at.timestamp() if origin_at is not None else time.time()
        self.origin = (origin or datetime.fromtimestamp(self._wall0, TZ)).astimezone(TZ)

    def __call__(self) -> datetime:
        return self.at_wall(time.time())

    def at_wall(self, wall_s: float) -> datetime:
        """The simulated time at the wall instant `wall_s` (seconds since the epoch)."""
        return self.origin + timedelta(seconds=(wall_s - self._wall0) * self.speed)

    def wall_of(self, simulated: datetime) -> float:
        """The wall instant (seconds since the epoch) at which the clock reads `simulated`."""
        return self._wall0 + (simulated - self.origin).total_seconds() / self.speed

    def __repr__(self) -> str:
        return f"WarpedClock(speed={self.speed}, origin={self.origin.isoformat()})"


def clock_from_settings(settings: Settings) -> Clock:
    """The wall clock, unless MOTCUA_CLOCK_SPEED / MOTCUA_CLOCK_ORIGIN warp it."""
    if settings.clock_speed == 1.0 and settings.clock_origin is None:
        return system_clock
    return WarpedClock(settings.clock_speed, settings.clock_origin, settings.clock_origin_at)
