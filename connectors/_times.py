"""The four inbound time formats (sources.md "Times"), each to a timezone-aware datetime.

Every parser returns the instant in Asia/Ho_Chi_Minh and raises `BadTime` for anything that is
not exactly its format: digits are ASCII only, a fraction of a second may have any number of
digits (beyond microseconds it is ignored), and a time outside the years 1900-8999 is refused
(so no later arithmetic on it can overflow).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from hub.domain.calendar import TZ

__all__ = ["TZ", "BadTime", "civil_time", "epoch_ms", "land_time", "onestop_time"]

_MIN_YEAR, _MAX_YEAR = 1900, 8999
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MS = int(datetime(_MIN_YEAR, 1, 2, tzinfo=UTC).timestamp() * 1000)
_MAX_MS = int(datetime(_MAX_YEAR, 12, 30, tzinfo=UTC).timestamp() * 1000)

_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})")
_ONESTOP_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_LAND_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_CIVIL = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2})")


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


class BadTime(ValueError):
    """A time present but unusable: malformed, out of range, or not of its format's JSON type."""


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise BadTime(f"offset {_show(text)} is out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _micros(fraction: str | None) -> int:
    return int(fraction[:6].ljust(6, "0")) if fraction else 0


def _build(parts: tuple[int, ...], micro: int, tz: tzinfo, raw: str) -> datetime:
    year, month, day, hour, minute, second = parts
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise BadTime(f"{_show(raw)}: year {year} is out of range")
    try:
        value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError as exc:
        raise BadTime(f"{_show(raw)}: {exc}") from None
    return value.astimezone(TZ)


def _require_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BadTime(f"{field} is a {type(value).__name__}, not a time string")
    return value


def onestop_time(value: Any, field: str = "time") -> datetime:
    """`yyyyMMddHHmmss` or ISO `YYYY-MM-DD(T| )HH:MM:SS[.f…][Z|±HH:MM]`; local without offset."""
    text = _require_str(value, field)
    m = _COMPACT.fullmatch(text)
    if m is not None:
        return _build(tuple(int(g) for g in m.groups()), 0, TZ, text)
    m = _ONESTOP_ISO.fullmatch(text)
    if m is None:
        raise BadTime(f"{field}={_show(text)} is not yyyyMMddHHmmss or ISO 8601")
    tz = _offset(m.group(8)) or TZ
    return _build(tuple(int(g) for g in m.groups()[:6]), _micros(m.group(7)), tz, text)


def land_time(value: Any, field: str = "time") -> datetime:
    """ISO 8601 `YYYY-MM-DDTHH:MM[:SS[.f…]]` then nothing, `Z` or `±HH:MM`; UTC without offset."""
    text = _require_str(value, field)
    m = _LAND_ISO.fullmatch(text)
    if m is None:
        raise BadTime(f"{field}={_show(text)} is not an ISO 8601 date and time")
    g = m.groups()
    parts = (int(g[0]), int(g[1]), int(g[2]), int(g[3]), int(g[4]), int(g[5] or 0))
    return _build(parts, _micros(g[6]), _offset(g[7]) or UTC, text)


def civil_time(text: str, field: str = "ThoiGian") -> datetime:
    """Exactly `dd/MM/yyyy HH:mm`, zero-padded, local time."""
    m = _CIVIL.fullmatch(text)
    if m is None:
        raise BadTime(f"{field}={_show(text)} is not dd/MM/yyyy HH:mm")
    day, month, year, hour, minute = (int(g) for g in m.groups())
    return _build((year, month, day, hour, minute, 0), 0, TZ, text)


def epoch_ms(value: Any, field: str = "occurredAt") -> datetime:
    """A JSON integer of epoch milliseconds (UTC); a bool, float or string is refused."""
    if type(value) is not int:
        raise BadTime(f"{field} is a {type(value).__name__}, not an integer of epoch milliseconds")
    if not _MIN_MS <= value <= _MAX_MS:
        raise BadTime(f"{field}={_show(value)} is out of range")
    return (_EPOCH + timedelta(milliseconds=value)).astimezone(TZ)
