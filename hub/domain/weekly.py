"""The province's weekly series for the page's chart: received, finished on time, finished late,
and late, per ISO week (Monday 00:00 to the next Monday, Asia/Ho_Chi_Minh). Pure.

Read from the dossier summaries (hub/domain/stats.py), like the §7 statistics, so any worker
draws the whole province. For a period `[start, end)` as of `now` (docs/interpretations.md,
item 26), each week's window is the week cut to the period and to `now`:
- `received`: dossiers received in the window;
- `finished_on_time` / `finished_late`: dossiers whose first closing, with a result, is in the
  window, judged by §7's rule (`stats.contribution` at the closing instant: due date in force
  then, at most one supplement request);
- `late`: dossiers open past due (§7) at the window's last instant: the week's end, the
  period's end, or `now` for the week that holds it. A stock, not a flow: a dossier late for
  three weeks counts in each, whenever it was received.
A week is listed from the one holding `start` (without one: the first week with a receipt) to
the one holding `min(end, now)`, empty weeks included, so the chart's axis has no gaps.

One pass over the summaries, none of them kept (a province holds up to a million, streamed to
`weeks` by hub/web/streamed.py): the flows are counted per week as they come, since without a
start the first week is known only at the end; the late figure keeps each late dossier's span
(two integers).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from hub.domain.calendar import TZ
from hub.domain.stats import Summary, at, contribution, ms

FIGURES = ("received", "finished_on_time", "finished_late", "late")
FLOWS = FIGURES[:3]  # counted at an instant; `late` is a stock, sampled
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS  # Vietnam keeps no daylight saving time
ONE_WEEK = timedelta(days=7)
NEVER = sys.maxsize  # after any instant


def monday(t: datetime) -> date:
    """The Monday (local date) of the ISO week holding `t`."""
    local = t.astimezone(TZ).date()
    return local - timedelta(days=local.weekday())


def _start_ms(d: date) -> int:
    return ms(datetime(d.year, d.month, d.day, tzinfo=TZ))


class _Weeks:
    """The week of an instant `t`: the Monday `m` with `start(m) <= t < start(m + 7 days)`, as
    a search among the weeks' start instants gives it.

    Remembered per UTC day (a day holds at most one week's start): a province's instants cost a
    look-up each rather than a time-zone conversion, and the memory is per day, not per dossier.
    """

    def __init__(self) -> None:
        self._starts: dict[date, int] = {}
        self._days: dict[int, tuple[int, date, date]] = {}  # day -> (cut, before it, after it)

    def start(self, m: date) -> int:
        """The Monday's first instant (local midnight)."""
        got = self._starts.get(m)
        if got is None:
            got = self._starts[m] = _start_ms(m)
        return got

    def of(self, t: int) -> date:
        day = t // DAY_MS
        got = self._days.get(day)
        if got is None:
            got = self._days[day] = self._day(day * DAY_MS)
        cut, before, after = got
        return before if t < cut else after

    def _day(self, begin: int) -> tuple[int, date, date]:
        m = monday(at(begin))
        # the zone's local date never steps back over a midnight, so these never loop today;
        # they keep the week the one of the start instants whatever the zone's history
        while self.start(m) > begin:
            m -= ONE_WEEK
        while (n := self._next(m)) is not None and self.start(n) <= begin:
            m = n
        n = self._next(m)
        if n is None:  # the last Monday a date can hold: no week after it
            return NEVER, m, m
        return self.start(n), m, n

    @staticmethod
    def _next(m: date) -> date | None:
        try:
            return m + ONE_WEEK
        except OverflowError:
            return None


def _late_intervals(s: Summary) -> tuple[int, int | None] | None:
    """`[from, until)` in which the dossier is open past due (`Summary.past_due`): from the
    later of its receipt and its first `PROCESSING_LATE`, until its first closing."""
    if s.received is None:
        return None
    raised = [r for kind, r, _ in s.alerts if kind == "PROCESSING_LATE"]
    if not raised:
        return None
    begin = max(s.received, min(raised))
    until = s.closed[0] if s.closed is not None else None
    if until is not None and until <= begin:
        return None
    return begin, until


def weeks(
    summaries: Iterable[Summary],
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """One row per ISO week: `week` (e.g. `2026-W49`), `start` and `end` (the Monday and the
    Sunday, ISO dates), and the `FIGURES`. Reads `summaries` once."""
    t_now = ms(now)
    lo = ms(start) if start is not None else None
    hi = min(ms(end), t_now + 1) if end is not None else t_now + 1  # exclusive
    if lo is not None and lo >= hi:
        return []
    week_of = _Weeks()
    flows: dict[date, dict[str, int]] = {}  # per week's Monday

    def count(t: int, key: str) -> None:
        m = week_of.of(t)
        got = flows.get(m)
        if got is None:
            got = flows[m] = dict.fromkeys(FLOWS, 0)
        got[key] += 1

    first: int | None = None  # the earliest receipt
    begins, ends = array("q"), array("q")  # of the late spans: no Summary kept
    for s in summaries:
        # without a start the period opens at the first receipt, known only once all are read;
        # nothing counted here is before it: a receipt is at or after it, and a closing counts
        # only at or after its own receipt (`contribution`)
        received = s.received
        if received is not None:
            if first is None or received < first:
                first = received
            if received < hi and (lo is None or received >= lo):
                count(received, "received")
        if s.closed is not None and s.closed[1]:
            closing = s.closed[0]
            if closing < hi and (lo is None or closing >= lo):
                got = contribution(s, closing)
                if got is not None:  # a closing before the receipt: not a finished dossier (§7)
                    on_time = got.counts["finished_on_time"]
                    count(closing, "finished_on_time" if on_time else "finished_late")
        span = _late_intervals(s)
        if span is not None:
            begins.append(span[0])
            if span[1] is not None:
                ends.append(span[1])
    if lo is None:
        if first is None or first >= hi:
            return []
        lo = first
    first_monday = monday(at(lo))
    last_monday = monday(at(hi - 1))
    mondays = []
    d = first_monday
    while d <= last_monday:
        mondays.append(d)
        d += ONE_WEEK
    bounds = [week_of.start(m) for m in mondays]  # each week's start instant

    rows = [dict.fromkeys(FIGURES, 0) for _ in mondays]
    for m, counted in flows.items():
        # the row a search among `bounds` gives each of the week's instants
        row = rows[bisect_right(bounds, week_of.start(m)) - 1]
        for key, n in counted.items():
            row[key] += n
    # open past due at an instant: begun at or before it, minus ended at or before it
    begins = array("q", sorted(begins))
    ends = array("q", sorted(ends))
    for i, week_start in enumerate(bounds):
        sample = min(week_start + WEEK_MS, hi) - 1  # the window's last instant
        rows[i]["late"] = bisect_right(begins, sample) - bisect_right(ends, sample)
    out = []
    for m, figures in zip(mondays, rows, strict=True):
        year, number, _ = m.isocalendar()
        out.append(
            {
                "week": f"{year}-W{number:02d}",
                "start": m.isoformat(),
                "end": (m + timedelta(days=6)).isoformat(),
                **figures,
            }
        )
    return out
