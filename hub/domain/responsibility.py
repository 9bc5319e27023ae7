"""Responsibility: who held what, and for how long past its deadline (rules.md §8). Pure.

Two steps, as for the statistics (hub/domain/stats.py):

1. From a dossier's facts, what its summary carries for §8: `holder_history(facts)` (who held
   it from when, per system) and `steps(facts)` (each step with its deadline, its holder and
   when it became and stopped being overdue). They depend on the events only, never on "now".
2. `officer_rows(summaries, calendar, start, end, now)` and `department_rows(rows)` read the
   summaries at `now`, like the §7 statistics, so any worker answers for the whole province.

A row is a receiving unit (§7), a department and an officer (null when the hand-over names
none), with the figures of §8 for a period `[start, end)` (None: unbounded) as of `now`:
- `steps`: steps whose deadline is in the period and at or before `now` (a step whose deadline
  has not come yet is not judged yet);
- `steps_overdue`: of them, those not followed in time (below); `still_overdue`: not followed
  by `now` either;
- `overrun_working_days`: over the steps overdue, `working_days_between(deadline, end)`, `end`
  the first follower, or `now` while there is none (a step followed within its deadline's own
  day counts 0 days and still counts as overdue);
- `late_at_breach`: `PROCESSING_LATE` raised at or before `now`, with its `condition_at` in the
  period, counted for the holder at that instant;
- `held_late_now`: dossiers open past due at `now` (§7), counted for the holder at `now`,
  whatever the period.
A holder appears when one of its figures is not 0. Rows are ordered by overrun working days,
then steps overdue, both descending, then by unit, department and officer (code points, an
absent name as empty). Department rows sum a unit's department over its officers, same order.

What the contract's sample (`expected_responsibility.json`) fixes beyond the text of §8, and
this module follows (docs/interpretations.md, item 17): §8 reads the one-stop and civil-status
records, not the land system's. A step is a one-stop step with a deadline
(`NgayKetThucTheoQuyDinh`; several at one instant are one step, its holder the one that sorts
last, §4); it is followed by the first, strictly after it, of a one-stop step, the start of a
pause of the one-stop or tax system, or a one-stop or civil closing; the holder is that of §4
over the one-stop and civil hand-overs. The land system's hand-overs, steps, pauses and closings
(which `STEP_OVERDUE` and the alerts' holder do count, §5) are left out: with them, the sample's
figures differ (a one-stop step followed by a land hand-over within its deadline is overdue
there; a late dossier is put on its last one-stop holder, not the land officer).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from hub.domain.alerts import AlertType
from hub.domain.calendar import WorkingCalendar
from hub.domain.dossier import DossierFacts, Handover
from hub.domain.events import EventKind, Source

FIGURES = (
    "steps",
    "steps_overdue",
    "still_overdue",
    "overrun_working_days",
    "late_at_breach",
    "held_late_now",
)
# the systems whose records §8 reads (see the module's docstring)
SYSTEMS = frozenset({Source.ONESTOP, Source.TAX, Source.CIVIL})
# (from, system, department, officer): the last hand-over of each instant and system
HolderEntry = tuple[int, str, str | None, str | None]
# (at, deadline, department, officer, overdue from, followed at): times in epoch ms
StepEntry = tuple[int, int, str | None, str | None, int | None, int | None]
Holder = tuple[str, str | None, str | None]  # unit, department, officer


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _at(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


# -- from a dossier's facts -------------------------------------------------------------------
def holder_history(facts: DossierFacts) -> list[HolderEntry]:
    """Per instant and system, the hand-over that sorts last (facts.handovers are in §4's
    order), dropping an entry equal to the one before it: the holder at any instant, over all
    systems or over some, is the last entry at or before it (`holder_at`)."""
    out: list[HolderEntry] = []
    hs = facts.handovers
    for i, h in enumerate(hs):
        if i + 1 < len(hs) and hs[i + 1].at == h.at and hs[i + 1].source is h.source:
            continue  # the same system's later hand-over of this instant wins
        entry = (_ms(h.at), h.source.value, h.unit, h.officer)
        if out and out[-1][1:] == entry[1:]:
            continue
        out.append(entry)
    return out


def holder_at(
    history: list[HolderEntry],
    initial: str | None,
    t: int,
    systems: frozenset[str] | None = None,
) -> tuple[str | None, str | None]:
    """The holder at `t` (rules.md §4) over the hand-overs of `systems` (None: all): the
    department and officer of the last such entry at or before `t`, else `initial`."""
    i = bisect_right(history, t, key=lambda h: h[0]) - 1
    while i >= 0 and systems is not None and history[i][1] not in systems:
        i -= 1
    if i < 0:
        return (initial, None)
    return (history[i][2], history[i][3])


def steps(facts: DossierFacts) -> list[StepEntry]:
    """Each §8 step with its holder, and when it became overdue and was followed."""
    holder: dict[datetime, Handover] = {}
    for h in facts.handovers:  # sorted: the last of an instant stays
        if h.source is Source.ONESTOP:
            holder[h.at] = h
    # pause starts recorded by a system §8 reads (a land supplement request is not)
    own_starts = {
        e.event_time
        for e in facts.events
        if (e.source is Source.ONESTOP and e.kind is EventKind.STEP and e.status in (5, 6))
        or (e.source is Source.TAX and e.kind is EventKind.TAX_NOTICE_ISSUED)
    }
    followers = sorted(
        {h.at for h in facts.handovers if h.source is Source.ONESTOP}
        | {p.start for p in facts.pauses if p.start in own_starts}
        | {c.at for c in facts.closings if c.source in SYSTEMS}
    )
    out: list[StepEntry] = []
    for step in facts.steps:
        if step.source is not Source.ONESTOP:
            continue
        who = holder.get(step.at)
        i = bisect_right(followers, step.at)
        first = followers[i] if i < len(followers) else None
        overdue = None if first is not None and first <= step.deadline else _ms(step.deadline)
        out.append(
            (
                _ms(step.at),
                _ms(step.deadline),
                who.unit if who else None,
                who.officer if who else None,
                overdue,
                _ms(first) if overdue is not None and first is not None else None,
            )
        )
    return out


# -- over the summaries -----------------------------------------------------------------------
class Responsible(Protocol):
    """What `officer_rows` reads of a dossier summary (hub.domain.stats.Summary)."""

    unit: str

    @property
    def steps(self) -> list[StepEntry]: ...

    @property
    def alerts(self) -> list[tuple[str, int, int | None]]: ...

    def responsible_at(self, t: int) -> tuple[str | None, str | None]: ...

    def past_due(self, t: int) -> bool: ...


def _order(row: dict[str, Any]) -> tuple[int, int, str, str, str]:
    return (
        -row["overrun_working_days"],
        -row["steps_overdue"],
        row["unit"],
        row["department"] or "",
        row.get("officer") or "",
    )


def officer_rows(
    summaries: Iterable[Responsible],
    calendar: WorkingCalendar,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The §8 rows per receiving unit, department and officer, in §8's order."""
    lo = _ms(start) if start is not None else None
    hi = _ms(end) if end is not None else None
    t = _ms(now)
    counts: dict[Holder, dict[str, int]] = {}

    def row(unit: str, department: str | None, officer: str | None) -> dict[str, int]:
        return counts.setdefault((unit, department, officer), dict.fromkeys(FIGURES, 0))

    def in_period(x: int) -> bool:
        return x <= t and (lo is None or x >= lo) and (hi is None or x < hi)

    late = AlertType.PROCESSING_LATE.value
    for s in summaries:
        for _, deadline, department, officer, overdue, followed in s.steps:
            if not in_period(deadline):
                continue
            r = row(s.unit, department, officer)
            r["steps"] += 1
            if overdue is None:
                continue
            r["steps_overdue"] += 1
            if followed is None or followed > t:
                r["still_overdue"] += 1
                until = t
            else:
                until = followed
            r["overrun_working_days"] += calendar.working_days_between(_at(deadline), _at(until))
        for kind, raised, _ in s.alerts:
            if kind == late and in_period(raised):
                row(s.unit, *s.responsible_at(raised))["late_at_breach"] += 1
        if s.past_due(t):
            row(s.unit, *s.responsible_at(t))["held_late_now"] += 1
    rows = [
        {"unit": unit, "department": department, "officer": officer, **figures}
        for (unit, department, officer), figures in counts.items()
        if any(figures.values())
    ]
    rows.sort(key=_order)
    return rows


def department_rows(officer_rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same figures summed per receiving unit and department, in §8's order."""
    sums: dict[tuple[str, str | None], dict[str, int]] = {}
    for r in officer_rows:
        total = sums.setdefault((r["unit"], r["department"]), dict.fromkeys(FIGURES, 0))
        for key in FIGURES:
            total[key] += r[key]
    rows = [
        {"unit": unit, "department": department, **figures}
        for (unit, department), figures in sums.items()
    ]
    rows.sort(key=_order)
    return rows


class _Coded(Responsible, Protocol):
    code: str


def overdue_steps(
    summaries: Iterable[_Coded],
    calendar: WorkingCalendar,
    holder: Holder,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The steps overdue that `officer_rows` counts for one holder (unit, department, officer),
    with their dossiers: what the page lists under an officer's row. Most overrun first."""
    unit, department, officer = holder
    lo = _ms(start) if start is not None else None
    hi = _ms(end) if end is not None else None
    t = _ms(now)
    out: list[dict[str, Any]] = []
    for s in summaries:
        if s.unit != unit:
            continue
        for at, deadline, dept, off, overdue, followed in s.steps:
            if (dept, off) != (department, officer) or overdue is None:
                continue
            if (
                deadline > t
                or (lo is not None and deadline < lo)
                or (hi is not None and deadline >= hi)
            ):
                continue
            still = followed is None or followed > t
            until = t if still or followed is None else followed
            out.append(
                {
                    "dossier_code": s.code,
                    "at": at,
                    "deadline": deadline,
                    "followed_at": None if still else followed,
                    "still_overdue": still,
                    "overrun_working_days": calendar.working_days_between(
                        _at(deadline), _at(until)
                    ),
                }
            )
    out.sort(key=lambda x: (-x["overrun_working_days"], x["deadline"], x["dossier_code"]))
    return out
