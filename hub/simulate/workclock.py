"""Office time: 07:30-17:00 on the working calendar's working days, counted in whole minutes.

The simulator moves every dossier along this clock (people act in office hours) and computes due
dates and pause moves as the rules do (rules.md §2), so that what it intends (on time, late) is
what the hub will find.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hub.domain.calendar import TZ, WorkingCalendar

OPEN_MIN = 7 * 60 + 30
CLOSE_MIN = 17 * 60
CUTOFF_MIN = 15 * 60  # a 0-day procedure received from then on is due the next working day
DAY_MIN = CLOSE_MIN - OPEN_MIN


def on_day(d: date, minutes: int) -> datetime:
    """Local time `minutes` after midnight of `d`."""
    return datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=TZ)


def minute_of(t: datetime) -> int:
    """Minutes after midnight (seconds dropped)."""
    return t.hour * 60 + t.minute


class WorkClock:
    """Office-hour arithmetic (07:30-17:00 on working days) on top of the working calendar."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.cal = calendar

    def working(self, d: date) -> bool:
        return self.cal.is_working_day(d)

    def advance(self, t: datetime, minutes: int) -> datetime:
        """`t` moved forward by `minutes` of office time (a time out of hours starts at opening)."""
        d = t.date()
        m = t.hour * 60 + t.minute
        left = max(0, minutes)
        while True:
            if self.working(d):
                begin = max(m, OPEN_MIN)
                if begin < CLOSE_MIN:
                    room = CLOSE_MIN - begin
                    if left <= room:
                        return on_day(d, begin + left)
                    left -= room
            d += timedelta(days=1)
            m = 0

    def minutes_between(self, a: datetime, b: datetime) -> int:
        """Office minutes in [a, b] (0 when b <= a)."""
        if b <= a:
            return 0
        total = 0
        d, m = a.date(), a.hour * 60 + a.minute
        end_d, end_m = b.date(), b.hour * 60 + b.minute
        while d <= end_d:
            if self.working(d):
                lo = max(m, OPEN_MIN)
                hi = min(end_m, CLOSE_MIN) if d == end_d else CLOSE_MIN
                total += max(0, hi - lo)
            d += timedelta(days=1)
            m = 0
        return total

    def due_date(self, r: datetime, n: int) -> datetime:
        """rules.md §2: the due date of a dossier received at `r` with an n-working-day limit."""
        if n == 0:
            if self.working(r.date()) and minute_of(r) < CUTOFF_MIN:
                return on_day(r.date(), CLOSE_MIN)
            return on_day(self.cal.next_working_day(r.date()), CLOSE_MIN)
        e = r
        if not (self.working(r.date()) and minute_of(r) < CLOSE_MIN):
            e = on_day(self.cal.next_working_day(r.date()), OPEN_MIN)
        return on_day(self.cal.add_working_days(e, n).date(), CLOSE_MIN)

    def move_due(self, due: datetime, start: datetime, end: datetime) -> datetime:
        """`due` pushed by the working days of a pause from `start` to `end`, if it began before."""
        if start >= due:
            return due
        k = self.cal.working_days_between(start, end)
        return self.cal.add_working_days(due, k) if k > 0 else due
