"""The six alert rules (rules.md §5) as one pure function: a dossier's facts -> its alert timeline.

`timeline` lists every transition the known events imply, past and future, as if no further event
came. The stream layer emits those whose `condition_at` has come (by its clock) and wakes up again
at the next one; a new event simply means recomputing the timeline. Each rule only looks at events
at or before the time it judges, so a transition, once its time has come, depends on nothing that
happens later: that is what makes the result independent of arrival order and replayable.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime

from hub.domain.alerts import AlertState, AlertType
from hub.domain.calendar import WorkingCalendar, to_local
from hub.domain.dossier import DossierFacts
from hub.domain.events import Source


@dataclass(frozen=True, order=True)
class Transition:
    condition_at: datetime
    type: AlertType
    state: AlertState
    occurrence: str  # what the alert is about: the due date, the step, the sectoral closing
    raised_at: datetime  # the RAISED's condition_at: with type and occurrence, the alert's identity


def _iso(t: datetime) -> str:
    # one spelling per instant, whatever zone the source wrote it in
    return to_local(t).isoformat()


def _pair(
    out: list[Transition],
    kind: AlertType,
    occurrence: str,
    raised: datetime,
    resolved: datetime | None,
) -> None:
    out.append(Transition(raised, kind, AlertState.RAISED, occurrence, raised))
    if resolved is not None:
        out.append(Transition(max(resolved, raised), kind, AlertState.RESOLVED, occurrence, raised))


def _due_values(f: DossierFacts, cal: WorkingCalendar) -> list[datetime]:
    """Every due date the dossier has in force at some time, in order."""
    if f.due_original is None:
        return []
    values = [f.due_original]
    for iv in f.merged:
        if iv.end is None:
            break
        d = f.due_at(iv.end, cal)
        if d is not None and d != values[-1]:
            values.append(d)
    return values


def _late_since(f: DossierFacts, cal: WorkingCalendar) -> tuple[datetime, datetime] | None:
    """When the dossier became late (open, not paused, past its due date), and that due date."""
    if f.received_at is None or f.due_original is None:
        return None
    points = {f.received_at, *_due_values(f, cal)}
    points.update(iv.end for iv in f.merged if iv.end is not None)
    for t in sorted(p for p in points if p >= f.received_at):
        if not f.is_open(t):
            if f.closed_at is not None and t >= f.closed_at:
                return None
            continue
        due = f.due_at(t, cal)
        if due is not None and t >= due and not f.is_paused(t):
            return t, due
    return None


def _due_soon(f: DossierFacts, cal: WorkingCalendar, out: list[Transition]) -> None:
    if f.received_at is None:
        return
    ends = sorted(iv.end for iv in f.merged if iv.end is not None)
    starts = sorted(iv.start for iv in f.merged if not iv.empty)
    for due in _due_values(f, cal):
        soon = cal.sub_working_days(due, 1)
        if f.received_at > soon:
            continue
        # the ends strictly between `soon` and `due`, by bisection: successive due dates lie a
        # working day apart at least, so these windows barely overlap and the loop stays linear
        window = ends[bisect_right(ends, soon) : bisect_left(ends, due)]
        for t in [soon, *window]:
            if f.due_at(t, cal) == due and f.is_open(t) and not f.is_paused(t):
                # resolved by the first of: the due date, the next pause start, the closing
                i = bisect_right(starts, t)
                stops = [due, *starts[i : i + 1]]
                if f.closed_at is not None:
                    stops.append(f.closed_at)
                _pair(out, AlertType.DUE_SOON, f"due={_iso(due)}", t, min(stops))
                break


def _processing_late(f: DossierFacts, cal: WorkingCalendar, out: list[Transition]) -> None:
    late = _late_since(f, cal)
    if late is None:
        return
    at, due = late
    occurrence = f"due={_iso(due)}"
    _pair(out, AlertType.PROCESSING_LATE, occurrence, at, f.closed_at)
    if any(a <= due for a in f.apologies):
        return
    apology = next((a for a in f.apologies if a > due), None)
    _pair(out, AlertType.APOLOGY_MISSING, occurrence, at, apology)


def _unreported(f: DossierFacts, cal: WorkingCalendar, grace: int, out: list[Transition]) -> None:
    if f.keyed_by_sector:
        return
    seen: set[tuple[Source, datetime]] = set()
    for c in f.closings:
        if c.source is Source.ONESTOP or (c.source, c.at) in seen:
            continue
        seen.add((c.source, c.at))
        deadline = cal.add_working_days(c.at, grace)
        if f.onestop_closed_at is not None and f.onestop_closed_at <= deadline:
            continue
        occurrence = f"{c.source.value}-closed={_iso(c.at)}"
        _pair(out, AlertType.UNREPORTED_COMPLETION, occurrence, deadline, f.onestop_closed_at)


def _not_received(f: DossierFacts, cal: WorkingCalendar, grace: int, out: list[Transition]) -> None:
    if f.first_sectoral is None:
        return
    deadline = cal.add_working_days(f.first_sectoral, grace)
    occurrence = f"first-event={_iso(f.first_sectoral)}"
    if f.keyed_by_sector:
        _pair(out, AlertType.NOT_RECEIVED_VIA_ONESTOP, occurrence, deadline, None)
    elif f.onestop_receipt is None or f.onestop_receipt > deadline:
        _pair(out, AlertType.NOT_RECEIVED_VIA_ONESTOP, occurrence, deadline, f.onestop_receipt)


def _step_overdue(f: DossierFacts, out: list[Transition]) -> None:
    followers = sorted(
        {h.at for h in f.handovers if h.source is not Source.CIVIL}
        | {p.start for p in f.pauses}
        | {c.at for c in f.closings}
    )
    for step in f.steps:
        # the first follower strictly after the step: in time if at or before its deadline,
        # else it resolves the alert (the followers are sorted, so one bisection says both)
        i = bisect_right(followers, step.at)
        first = followers[i] if i < len(followers) else None
        if first is not None and first <= step.deadline:
            continue
        occurrence = f"{step.source.value}-step={_iso(step.at)}"
        _pair(out, AlertType.STEP_OVERDUE, occurrence, step.deadline, first)


def timeline(
    f: DossierFacts, calendar: WorkingCalendar, grace_working_days: int
) -> list[Transition]:
    """Every alert transition the dossier's known events imply, sorted by `condition_at`."""
    out: list[Transition] = []
    _due_soon(f, calendar, out)
    _processing_late(f, calendar, out)
    _unreported(f, calendar, grace_working_days, out)
    _not_received(f, calendar, grace_working_days, out)
    _step_overdue(f, out)
    out.sort()
    return out
