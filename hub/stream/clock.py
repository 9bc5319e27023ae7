"""The injected clock: wall time in production, any callable in tests and replays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hub.domain.calendar import TZ

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(TZ)
