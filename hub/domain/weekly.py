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
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from hub.domain.calendar import TZ
from hub.domain.stats import Summary, at, contribution, ms

FIGURES = ("received", "finished_on_time", "finished_late", "late")


def monday(t: datetime) -> date:
    """The Monday (local date) of the ISO week holding `t`."""
    local = t.astimezone(TZ).date()
    return local - timedelta(days=local.weekday())


def _start_ms(d: date) -> int:
    return ms(datetime(d.year, d.month, d.day, tzinfo=TZ))


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
    Sunday, ISO dates), and the `FIGURES`."""
    items = list(summaries)
    t_now = ms(now)
    lo = ms(start) if start is not None else None
    hi = min(ms(end), t_now + 1) if end is not None else t_now + 1  # exclusive
    if lo is None:
        first = min((s.received for s in items if s.received is not None), default=None)
        if first is None or first >= hi:
            return []
        lo = first
    if lo >= hi:
        return []
    first_monday = monday(at(lo))
    last_monday = monday(at(hi - 1))
    mondays = []
    d = first_monday
    while d <= last_monday:
        mondays.append(d)
        d += timedelta(days=7)
    bounds = [_start_ms(m) for m in mondays]  # each week's start instant

    def index(t: int) -> int | None:
        """The week of an instant inside `[lo, hi)`, else None."""
        if t < lo or t >= hi:
            return None
        return bisect_right(bounds, t) - 1

    rows = [dict.fromkeys(FIGURES, 0) for _ in mondays]
    late_spans = []
    for s in items:
        if s.received is not None and (i := index(s.received)) is not None:
            rows[i]["received"] += 1
        if s.closed is not None and s.closed[1] and (i := index(s.closed[0])) is not None:
            got = contribution(s, s.closed[0])
            if got is not None:  # a closing before the receipt: not a finished dossier (§7)
                key = "finished_on_time" if got.counts["finished_on_time"] else "finished_late"
                rows[i][key] += 1
        span = _late_intervals(s)
        if span is not None:
            late_spans.append(span)
    # open past due at an instant: begun at or before it, minus ended at or before it
    begins = sorted(b for b, _ in late_spans)
    ends = sorted(u for _, u in late_spans if u is not None)
    for i, week_start in enumerate(bounds):
        week_end = week_start + 7 * 86_400_000  # Vietnam keeps no daylight saving time
        sample = min(week_end, hi) - 1  # the window's last instant
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
