"""The Vietnamese working-day calendar (rules.md §1).

Public holidays come from the `holidays` package's Vietnam calendar (its own make-up working days
are not used); the province's overrides file adds days off and make-up working days.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from hub.errors import ConfigError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE_CLOSE = time(17, 0)
OFFICE_OPEN = time(7, 30)
SAME_DAY_CUTOFF = time(15, 0)
_MAX_WALK_DAYS = 366 * 20  # a walk longer than this means a calendar with no working days


@dataclass(frozen=True)
class Override:
    day: date
    working: bool
    note: str


def load_overrides(path: Path) -> list[Override]:
    """Read `date,kind,note` rows; a bad row stops the hub with its line number."""
    rows: list[Override] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"calendar file {path}: {exc}") from exc
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:2]] != ["date", "kind"]:
        raise ConfigError(f"calendar file {path}, line 1: header must start with 'date,kind'")
    for lineno, row in enumerate(reader, start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise ConfigError(f"calendar file {path}, line {lineno}: expected date,kind,note")
        raw_day, kind = row[0].strip(), row[1].strip()
        try:
            day = date.fromisoformat(raw_day)
        except ValueError as exc:
            raise ConfigError(
                f"calendar file {path}, line {lineno}: {raw_day!r} is not a YYYY-MM-DD date"
            ) from exc
        if kind not in ("day_off", "working_day"):
            raise ConfigError(
                f"calendar file {path}, line {lineno}: kind {kind!r} is not day_off or working_day"
            )
        rows.append(Override(day, kind == "working_day", row[2].strip() if len(row) > 2 else ""))
    return rows


@dataclass
class WorkingCalendar:
    """Working days of Vietnam with the province's overrides. Pure and deterministic."""

    overrides: Iterable[Override] = ()
    _forced: dict[date, bool] = field(init=False, default_factory=dict)
    _holidays: holidays.HolidayBase = field(init=False)
    _cache: dict[date, bool] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._forced = {o.day: o.working for o in self.overrides}
        self._holidays = holidays.country_holidays("VN")

    @classmethod
    def from_file(cls, path: Path) -> WorkingCalendar:
        return cls(load_overrides(path))

    def is_working_day(self, d: date) -> bool:
        cached = self._cache.get(d)
        if cached is not None:
            return cached
        forced = self._forced.get(d)
        result = forced if forced is not None else d.weekday() < 5 and d not in self._holidays
        self._cache[d] = result
        return result

    def _walk(self, d: date, n: int, step: int) -> date:
        remaining = n
        for _ in range(_MAX_WALK_DAYS):
            d += timedelta(days=step)
            if self.is_working_day(d):
                remaining -= 1
                if remaining == 0:
                    return d
        raise ConfigError("the calendar has no working days in a 20-year walk")

    def add_working_days(self, t: datetime, n: int) -> datetime:
        """The n-th working day after the date of `t`, at `t`'s time of day (n >= 1)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        local = t.astimezone(TZ)
        return datetime.combine(self._walk(local.date(), n, 1), local.timetz())

    def sub_working_days(self, t: datetime, n: int) -> datetime:
        if n < 1:
            raise ValueError("n must be >= 1")
        local = t.astimezone(TZ)
        return datetime.combine(self._walk(local.date(), n, -1), local.timetz())

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days d with date(a) < d <= date(b); 0 when b <= a."""
        if b <= a:
            return 0
        da, db = a.astimezone(TZ).date(), b.astimezone(TZ).date()
        count = 0
        d = da + timedelta(days=1)
        while d <= db:
            if self.is_working_day(d):
                count += 1
            d += timedelta(days=1)
        return count

    def next_working_day(self, d: date) -> date:
        return self._walk(d, 1, 1)

    def at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=TZ)
