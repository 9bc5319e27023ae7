"""A dossier's facts, derived from all its events (rules.md §2–§4).

Everything here is a pure function of the dossier's set of events: the order they arrived in, and
how often, make no difference. The stream layer keeps the events; this module reads them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hub.domain.calendar import (
    OFFICE_CLOSE,
    OFFICE_OPEN,
    SAME_DAY_CUTOFF,
    TZ,
    WorkingCalendar,
    to_local,
)
from hub.domain.catalog import Catalog
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source

ONESTOP_CLOSING = frozenset({3, 7, 8, 9, 10})
ONESTOP_FINISHING = frozenset({9, 10})
_RANK = {Source.ONESTOP: 0, Source.LAND: 1, Source.TAX: 2, Source.CIVIL: 3}
_NO_TIME = datetime(1, 1, 2, tzinfo=TZ)
_SECTORAL_START = frozenset(
    {
        EventKind.LAND_HANDOVER,
        EventKind.LAND_SUPPLEMENT_REQUESTED,
        EventKind.LAND_SUPPLEMENT_RECEIVED,
        EventKind.LAND_CLOSED,
        EventKind.CIVIL,
    }
)
_TAX_ORDER = {
    EventKind.TAX_NOTICE_ISSUED: 0,
    EventKind.TAX_OBLIGATION_RECEIVED: 1,
    EventKind.TAX_PAID: 2,
    EventKind.TAX_NOTICE_CANCELLED: 2,
}


@dataclass(frozen=True)
class Closing:
    at: datetime
    source: Source
    with_result: bool  # finished (a result) rather than closed without one


@dataclass(frozen=True)
class Handover:
    at: datetime
    source: Source
    unit: str | None
    officer: str | None

    def sort_key(self) -> tuple[datetime, int, str, str]:
        return (self.at, _RANK[self.source], self.unit or "", self.officer or "")


@dataclass(frozen=True)
class Step:
    """A one-stop step or land hand-over with a deadline: one per (system, instant)."""

    source: Source
    at: datetime
    deadline: datetime


@dataclass(frozen=True)
class Pause:
    kind: str  # "supplement" or "financial"
    start: datetime
    end: datetime | None  # None: still open


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime | None

    @property
    def empty(self) -> bool:
        return self.end == self.start

    def holds(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


def event_order(ev: DossierEvent) -> tuple[datetime, int, str]:
    return (ev.event_time or _NO_TIME, _RANK[ev.source], ev.event_id)


def dedupe(events: Iterable[DossierEvent]) -> list[DossierEvent]:
    """One event per identity (source and id: two systems' ids may coincide); of deliveries
    that differ, the earliest event time counts."""
    best: dict[tuple[str, str], DossierEvent] = {}
    for ev in events:
        seen = best.get(ev.identity)
        if seen is None or event_order(ev) < event_order(seen):
            best[ev.identity] = ev
    return sorted(best.values(), key=event_order)


def unit_code_of(dossier_code: str) -> str | None:
    if dossier_code.startswith(("land:", "civil:", "onestop:", "tax:")):
        return None
    return dossier_code.split("-", 1)[0]


@dataclass
class DossierFacts:
    code: str
    events: list[DossierEvent]
    keyed_by_sector: bool = False
    onestop_receipt: datetime | None = None
    first_sectoral: datetime | None = None
    received_at: datetime | None = None
    procedure_code: str | None = None
    procedure_name: str | None = None
    time_limit_wd: int | None = None
    due_original: datetime | None = None
    unit_name: str | None = None
    civil_agency: str | None = None
    channel: str | None = None
    closings: list[Closing] = field(default_factory=list)
    onestop_closed_at: datetime | None = None
    handovers: list[Handover] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pauses: list[Pause] = field(default_factory=list)
    merged: list[Interval] = field(default_factory=list)
    apologies: list[datetime] = field(default_factory=list)
    supplement_requests: int = 0
    # Indexes for the questions asked at many instants (holder, pause, due date), so that each
    # costs O(log n) rather than a pass over the hand-overs or the pauses: built on first use
    # from the lists above, and again if one of them is replaced.
    _holder_index: tuple[list[Handover], list[datetime]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _pause_index: tuple[list[Interval], list[datetime]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _due_index: _DueChain | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # set here rather than left to the class attributes: compiled with mypyc, a field with
        # a default and init=False is never set (reading it raises AttributeError)
        self._holder_index = None
        self._pause_index = None
        self._due_index = None

    @property
    def closing(self) -> Closing | None:
        return self.closings[0] if self.closings else None

    @property
    def closed_at(self) -> datetime | None:
        return self.closings[0].at if self.closings else None

    @property
    def unit_code(self) -> str | None:
        return unit_code_of(self.code)

    def is_open(self, t: datetime) -> bool:
        return (
            self.received_at is not None
            and self.received_at <= t
            and (self.closed_at is None or t < self.closed_at)
        )

    def is_paused(self, t: datetime) -> bool:
        # merged intervals are disjoint and sorted: only the last one starting at or before `t`
        # can hold it
        index = self._pause_index
        if index is None or index[0] is not self.merged:
            index = self._pause_index = (self.merged, [iv.start for iv in self.merged])
        i = bisect_right(index[1], t) - 1
        return i >= 0 and not self.merged[i].empty and self.merged[i].holds(t)

    def holder_at(self, t: datetime) -> tuple[str | None, str | None]:
        """The latest hand-over at or before `t` (the last of its instant, as sorted)."""
        index = self._holder_index
        if index is None or index[0] is not self.handovers:
            index = self._holder_index = (self.handovers, [h.at for h in self.handovers])
        i = bisect_right(index[1], t) - 1
        if i < 0:
            return (self.unit_name, None)
        h = self.handovers[i]
        return (h.unit, h.officer)

    def due_at(self, t: datetime, calendar: WorkingCalendar) -> datetime | None:
        """The due date in force at `t`: pauses not yet ended at `t` have not moved it.

        Taking the merged intervals in order, each that ended by `t` and started before the due
        date then in force moves it (rules.md §3); the first that started at or after it, or is
        still open, stops the moves for good, whatever `t`. So the due date after each prefix of
        intervals is computed once (`_DueChain`) and `t` only picks how many have ended: their
        ends increase, as the intervals are disjoint.
        """
        chain = self._due_index
        if chain is None or chain.calendar is not calendar or chain.merged is not self.merged:
            chain = self._due_index = _DueChain.of(self, calendar)
        return chain.dues[min(chain.moves, bisect_right(chain.ends, t))]


@dataclass(frozen=True)
class _DueChain:
    calendar: WorkingCalendar
    merged: list[Interval]
    ends: list[datetime]  # of the merged intervals that ended, increasing
    dues: list[datetime | None]  # dues[k]: the due date once the first k intervals have ended
    moves: int  # how many intervals can ever move it (a prefix)

    @classmethod
    def of(cls, f: DossierFacts, calendar: WorkingCalendar) -> _DueChain:
        dues: list[datetime | None] = [f.due_original]
        ends: list[datetime] = []
        for iv in f.merged:
            due = dues[-1]
            if due is None or iv.start >= due or iv.end is None:
                break
            n = calendar.working_days_between(iv.start, iv.end)
            dues.append(calendar.add_working_days(due, n) if n else due)
            ends.append(iv.end)
        return cls(calendar, f.merged, ends, dues, len(ends))


def _onestop_transitions(ev: DossierEvent) -> list[tuple[datetime, int]]:
    """The (time, status) transitions an item records (sources.md §1)."""
    if ev.status is None:
        return []
    if ev.kind is EventKind.STEP:
        return [(ev.event_time, ev.status)] if ev.event_time else []
    if ev.kind is not EventKind.SNAPSHOT:
        return []
    s = ev.status
    if s == 2 and ev.received_at:
        return [(ev.received_at, 2)]
    if s == 3 and ev.refused_at:
        return [(ev.refused_at, 3)]
    if s == 9 and ev.finished_at:
        return [(ev.finished_at, 9)]
    if s == 10 and ev.returned_at:
        out = [(ev.returned_at, 10)]
        if ev.finished_at:
            out.append((ev.finished_at, 9))
        return out
    return []


def _snapshot_order(ev: DossierEvent) -> tuple[bool, bool, datetime, str]:
    return (not ev.first_sync, ev.event_time is None, ev.event_time or _NO_TIME, ev.event_id)


def _first_end(start: datetime, ends: list[datetime]) -> datetime | None:
    """The first of the sorted `ends` at or after `start`."""
    i = bisect_left(ends, start)
    return ends[i] if i < len(ends) else None


def _financial_pauses(events: list[DossierEvent], step_ends: list[datetime]) -> list[Pause]:
    starts = [
        e.event_time for e in events if e.kind is EventKind.STEP and e.status == 6 and e.event_time
    ]
    ends = list(step_ends)
    tax = sorted(
        (e for e in events if e.source is Source.TAX and e.event_time and e.kind in _TAX_ORDER),
        key=lambda e: (e.event_time, _TAX_ORDER[e.kind], e.event_id),
    )
    outstanding: set[str] = set()
    for e in tax:
        assert e.event_time is not None
        notice = e.notice_no or ""
        if e.kind is EventKind.TAX_NOTICE_ISSUED:
            if not outstanding:
                starts.append(e.event_time)
            outstanding.add(notice)
        elif (
            e.kind in (EventKind.TAX_PAID, EventKind.TAX_NOTICE_CANCELLED) and notice in outstanding
        ):
            outstanding.discard(notice)
            if not outstanding:
                ends.append(e.event_time)
    ends.sort()
    return [Pause("financial", s, _first_end(s, ends)) for s in sorted(starts)]


def _merge(pauses: list[Pause]) -> list[Interval]:
    merged: list[Interval] = []
    for p in sorted(pauses, key=lambda p: p.start):
        if merged:
            last = merged[-1]
            if last.end is None or p.start <= last.end:
                end = None if last.end is None or p.end is None else max(last.end, p.end)
                merged[-1] = Interval(last.start, end)
                continue
        merged.append(Interval(p.start, p.end))
    return merged


def _due_from_catalog(r: datetime, limit: int, calendar: WorkingCalendar) -> datetime:
    local = to_local(r)
    day = local.date()
    if limit == 0:
        if calendar.is_working_day(day) and local.time() < SAME_DAY_CUTOFF:
            return calendar.at(day, OFFICE_CLOSE)
        return calendar.at(calendar.next_working_day(day), OFFICE_CLOSE)
    if calendar.is_working_day(day) and local.time() < OFFICE_CLOSE:
        e = local
    else:
        e = calendar.at(calendar.next_working_day(day), OFFICE_OPEN)
    return calendar.at(calendar.add_working_days(e, limit).date(), OFFICE_CLOSE)


def derive(
    code: str, events: Iterable[DossierEvent], calendar: WorkingCalendar, catalog: Catalog
) -> DossierFacts:
    evs = dedupe(events)
    f = DossierFacts(code=code, events=evs, keyed_by_sector=unit_code_of(code) is None)
    snapshots = sorted((e for e in evs if e.kind is EventKind.SNAPSHOT), key=_snapshot_order)
    civil = [e for e in evs if e.kind is EventKind.CIVIL]

    receipts = [e.received_at for e in snapshots if e.received_at and e.status != 1]
    f.onestop_receipt = min(receipts, default=None)
    sectoral = [e.event_time for e in evs if e.kind in _SECTORAL_START and e.event_time]
    f.first_sectoral = min(sectoral, default=None)
    candidates = [t for t in (f.onestop_receipt, f.first_sectoral) if t is not None]
    f.received_at = min(candidates, default=None)

    f.unit_name = next((e.unit_name for e in snapshots if e.unit_name), None)
    f.channel = next((e.channel for e in snapshots if e.channel), None)
    f.civil_agency = next((e.holder_unit for e in civil if e.holder_unit), None)
    f.procedure_code = next((e.procedure_code for e in snapshots if e.procedure_code), None)
    if f.procedure_code is None:
        f.procedure_code = next((e.procedure_code for e in civil if e.procedure_code), None)
    f.procedure_name = next((e.procedure_name for e in snapshots if e.procedure_name), None)
    procedure = catalog.get(f.procedure_code)
    if procedure is not None:
        f.time_limit_wd = procedure.time_limit_wd
        f.procedure_name = f.procedure_name or procedure.name

    # the due date: the receipt's printed promise, else the catalogue (§2)
    first_sync = {e.appointment_at for e in snapshots if e.first_sync and e.appointment_at}
    if len(first_sync) == 1:
        f.due_original = first_sync.pop()
    else:
        f.due_original = min(
            (e.appointment_at for e in snapshots if e.appointment_at), default=None
        )
    if f.due_original is None and procedure is not None:
        basis = f.onestop_receipt or f.first_sectoral
        if basis is not None:
            f.due_original = _due_from_catalog(basis, procedure.time_limit_wd, calendar)

    # closings (§4)
    for e in evs:
        for t, status in _onestop_transitions(e):
            if status in ONESTOP_CLOSING:
                f.closings.append(Closing(t, Source.ONESTOP, status in ONESTOP_FINISHING))
        if e.kind is EventKind.LAND_CLOSED and e.event_time:
            f.closings.append(Closing(e.event_time, Source.LAND, bool(e.with_result)))
        if (
            e.kind is EventKind.CIVIL
            and e.event_time
            and e.civil_status
            in (
                CivilStatus.DA_CO_KET_QUA,
                CivilStatus.TU_CHOI,
            )
        ):
            f.closings.append(
                Closing(e.event_time, Source.CIVIL, e.civil_status is CivilStatus.DA_CO_KET_QUA)
            )
    # at one instant a finishing closing counts before one without result
    f.closings.sort(key=lambda c: (c.at, not c.with_result, _RANK[c.source]))
    f.onestop_closed_at = next((c.at for c in f.closings if c.source is Source.ONESTOP), None)

    # hand-overs and steps (§4, §5 STEP_OVERDUE)
    deadlines: dict[tuple[Source, datetime], datetime] = {}
    for e in evs:
        if e.event_time is None:
            continue
        if e.kind in (EventKind.STEP, EventKind.LAND_HANDOVER, EventKind.CIVIL):
            f.handovers.append(Handover(e.event_time, e.source, e.holder_unit, e.holder_officer))
        if e.kind in (EventKind.STEP, EventKind.LAND_HANDOVER) and e.step_deadline:
            key = (e.source, e.event_time)
            deadlines[key] = max(deadlines.get(key, e.step_deadline), e.step_deadline)
    f.handovers.sort(key=Handover.sort_key)
    f.steps = sorted(
        (Step(src, at, dl) for (src, at), dl in deadlines.items()), key=lambda s: (s.at, s.deadline)
    )

    # pauses (§3)
    steps = [e for e in evs if e.kind is EventKind.STEP and e.event_time]
    not5 = sorted(e.event_time for e in steps if e.status != 5 and e.event_time)
    not6 = sorted(e.event_time for e in steps if e.status != 6 and e.event_time)
    sup_ends = sorted(
        not5
        + [
            e.event_time
            for e in evs
            if e.kind is EventKind.LAND_SUPPLEMENT_RECEIVED and e.event_time
        ]
    )
    sup_starts = sorted(
        [e.event_time for e in steps if e.status == 5 and e.event_time]
        + [
            e.event_time
            for e in evs
            if e.kind is EventKind.LAND_SUPPLEMENT_REQUESTED and e.pause and e.event_time
        ]
    )
    pauses = [Pause("supplement", s, _first_end(s, sup_ends)) for s in sup_starts]
    pauses += _financial_pauses(evs, not6)
    closed = f.closed_at
    if closed is not None:
        pauses = [
            Pause(p.kind, p.start, closed if p.end is None or p.end > closed else p.end)
            for p in pauses
            if p.start < closed
        ]
    f.pauses = sorted(pauses, key=lambda p: (p.start, p.kind))
    f.merged = _merge(f.pauses)
    f.supplement_requests = len(_merge([p for p in f.pauses if p.kind == "supplement"]))
    f.apologies = sorted(
        {e.apology_at for e in evs if e.kind is EventKind.APOLOGY and e.apology_at}
    )
    return f
