"""The Vietnamese working-day calendar (rules.md §1).

Public holidays come from the `holidays` package's Vietnam calendar (its own make-up working days
are not used); the province's overrides file adds days off and make-up working days.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from hub.errors import ConfigError, DeadLetterError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OFFICE_CLOSE = time(17, 0)
OFFICE_OPEN = time(7, 30)
SAME_DAY_CUTOFF = time(15, 0)


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
        except ValueError as bad:
            raise ConfigError(
                f"calendar file {path}, line {lineno}: {raw_day!r} is not a YYYY-MM-DD date"
            ) from bad
        if kind not in ("day_off", "working_day"):
            raise ConfigError(
                f"calendar file {path}, line {lineno}: kind {kind!r} is not day_off or working_day"
            )
        rows.append(Override(day, kind == "working_day", row[2].strip() if len(row) > 2 else ""))
    return rows


class CalendarRangeError(DeadLetterError):
    """A time whose answer is not a date of years 1-9999 (a walk past either end, a local date
    beyond them): the input is unusable, not the hub broken (BAD_TIME, like the connectors)."""

    def __init__(self, message: str) -> None:
        super().__init__("BAD_TIME", message)


def to_local(t: datetime) -> datetime:
    """`t` in Vietnamese time; CalendarRangeError when that falls outside years 1-9999."""
    try:
        return t.astimezone(TZ)
    except (OverflowError, ValueError) as exc:
        raise CalendarRangeError(f"{t.isoformat()} has no local date in years 1-9999") from exc


_LAST = date.max.toordinal()


@cache
def _vn_holidays() -> frozenset[date]:
    """Every date of the package's Vietnam calendar, years 1-9999 (rules.md §1: `date in
    holidays.VN()`, observed days included). Read once per process: about 10 ms; the package
    knows 1901-2100. The years are asked for when the calendar is made: looking a date of each
    year up (`get`) computes it too, but not compiled with mypyc, whose `get` and `in` on a dict
    subclass are dict's own (no year computed, no holiday)."""
    return frozenset(holidays.country_holidays("VN", years=range(1, 10000)))


def _weekdays_upto(o: int) -> int:
    """Mondays to Fridays among the proleptic ordinals 1..o (ordinal 1, 0001-01-01, a Monday)."""
    weeks, rest = divmod(o, 7)
    return 5 * weeks + min(rest, 5)


@dataclass
class WorkingCalendar:
    """Working days of Vietnam with the province's overrides. Pure and deterministic.

    Counted, not walked: a working day is a weekday unless it is one of finitely many exceptions
    (weekday holidays, overrides that differ from the weekday rule), so the working days up to a
    date are its weekdays (arithmetic) plus the exceptions up to it (a bisect on their sorted
    ordinals). Every operation costs O(log exceptions) whatever the span, so a time centuries away
    neither loops for minutes nor fills memory with one entry per day.
    """

    overrides: Iterable[Override] = ()
    _forced: dict[date, bool] = field(init=False, default_factory=dict)
    _holidays: frozenset[date] = field(init=False, default=frozenset())
    _flipped: frozenset[int] = field(init=False, default=frozenset())  # ordinals, not weekday rule
    _ords: list[int] = field(init=False, default_factory=list)  # the same, sorted
    _cum: list[int] = field(init=False, default_factory=list)  # _cum[i]: sum of deltas of _ords[:i]

    def __post_init__(self) -> None:
        self._forced = {o.day: o.working for o in self.overrides}
        self._holidays = _vn_holidays()
        deltas: dict[int, int] = {}
        for d in {*self._holidays, *self._forced}:
            weekday = d.weekday() < 5
            forced = self._forced.get(d)
            working = forced if forced is not None else weekday and d not in self._holidays
            if working != weekday:
                deltas[d.toordinal()] = 1 if working else -1
        self._flipped = frozenset(deltas)
        self._ords = sorted(deltas)
        self._cum = [0]
        for o in self._ords:
            self._cum.append(self._cum[-1] + deltas[o])

    @classmethod
    def from_file(cls, path: Path) -> WorkingCalendar:
        return cls(load_overrides(path))

    def is_working_day(self, d: date) -> bool:
        # a flipped ordinal is a weekday off or a day of a weekend made working
        return (d.weekday() < 5) != (d.toordinal() in self._flipped)

    def _rank(self, o: int) -> int:
        """Working days among the ordinals 1..o (0 for o = 0)."""
        return _weekdays_upto(o) + self._cum[bisect_right(self._ords, o)]

    def _first_with_rank(self, target: int, o: int, step: int, origin: date) -> int:
        """The first ordinal whose rank reaches `target`, searched from `o` in direction `step`
        by doubling strides, then bisection: O(log distance) ranks."""
        if step > 0:
            lo, stride = o, 8  # rank(lo) < target
            hi = min(lo + stride, _LAST)
            while self._rank(hi) < target:
                if hi == _LAST:
                    raise CalendarRangeError(
                        f"the working day sought from {origin} is after 9999-12-31"
                    )
                lo, stride = hi, stride * 2
                hi = min(lo + stride, _LAST)
        else:
            if target < 1:
                raise CalendarRangeError(
                    f"the working day sought from {origin} is before 0001-01-01"
                )
            hi, stride = o, 8  # rank(hi) >= target
            lo = max(hi - stride, 0)
            while self._rank(lo) >= target:
                hi, stride = lo, stride * 2
                lo = max(hi - stride, 0)
        while hi - lo > 1:  # rank(lo) < target <= rank(hi)
            mid = (lo + hi) // 2
            if self._rank(mid) < target:
                lo = mid
            else:
                hi = mid
        return hi

    def _after(self, d: date, n: int) -> date:
        """The n-th working day after `d` (the rules' walk, rules.md §1)."""
        o = d.toordinal()
        return date.fromordinal(self._first_with_rank(self._rank(o) + n, o, 1, d))

    def _before(self, d: date, n: int) -> date:
        """The n-th working day before `d`."""
        o = d.toordinal()
        return date.fromordinal(self._first_with_rank(self._rank(o - 1) - n + 1, o - 1, -1, d))

    def add_working_days(self, t: datetime, n: int) -> datetime:
        """The n-th working day after the date of `t`, at `t`'s time of day (n >= 1)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        local = to_local(t)
        return datetime.combine(self._after(local.date(), n), local.timetz())

    def sub_working_days(self, t: datetime, n: int) -> datetime:
        if n < 1:
            raise ValueError("n must be >= 1")
        local = to_local(t)
        return datetime.combine(self._before(local.date(), n), local.timetz())

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """Working days d with date(a) < d <= date(b); 0 when b <= a."""
        if b <= a:
            return 0
        da, db = to_local(a).date(), to_local(b).date()
        # max: a later instant can have an earlier local date across an offset change
        return max(0, self._rank(db.toordinal()) - self._rank(da.toordinal()))

    def next_working_day(self, d: date) -> date:
        return self._after(d, 1)

    def at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=TZ)
