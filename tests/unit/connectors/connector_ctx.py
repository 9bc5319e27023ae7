"""Connector test helpers: the real working calendar and a Context like the sample feed's."""

from __future__ import annotations

from functools import cache

from connectors import Context
from hub.domain.calendar import WorkingCalendar
from hub.settings import DATA_DIR

SECURITY_CODE = "QNAM-VBDLIS-7f3a9c"


@cache
def calendar() -> WorkingCalendar:
    return WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")


def make_ctx(**overrides: object) -> Context:
    settings: dict[str, object] = {
        "calendar": calendar(),
        "topic": "t",
        "partition": 3,
        "offset": 42,
        "max_message_bytes": 524288,
        "land_security_code": SECURITY_CODE,
    }
    settings.update(overrides)
    return Context(**settings)  # type: ignore[arg-type]
