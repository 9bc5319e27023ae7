"""Audit: records that hide lateness (rules.md §9). Findings, not alerts: pure, no clock.

Two steps, as for the statistics (hub/domain/stats.py):

1. `detect(facts, calendar)` lists a dossier's findings from its facts: `(kind, at, due, note)`
   tuples of epoch milliseconds, carried in the dossier's `Summary.findings`. Like the rest of
   the summary it depends on the events only, never on "now".
2. `findings(summaries, start, end, now)` lists, over the summaries, the findings whose time is
   in `[start, end)` and at or before `now`, one dict each (the line of `expected_audit.jsonl`,
   see below), with the holder at the finding's time.

The kinds and their times:
- `DUE_DATE_EXTENDED`: a one-stop snapshot's `NgayHenTra` later than every due date the dossier
  has had (the original and each one an ended pause moved it to; they only grow, so: later than
  the final one), on a dossier with no apology on record at all. One per distinct `NgayHenTra`;
  `at` is the final due date, `due` the same, `note` None; the extended date is the `extended`
  element (see `Finding`).
- `PAUSE_AFTER_DUE`: a pause of §3 (any system, before merging; an empty pause too, since §3
  makes it a pause start) that starts at or after the due date in force at its start, while the
  dossier is open (received, not closed). One per distinct start; `at` is the start, `due` the
  due date in force then, `note` the pause's kind (`supplement` or `financial`; at one instant,
  the first by that order).
- `APOLOGY_AFTER_DUE`: a `NgayXinLoi` strictly after the due date in force at that instant (an
  apology at the due date itself is in time). One per distinct `NgayXinLoi`; `at` is it, `due`
  the due date in force then.

One choice where §9 leaves room (docs/interpretations.md): "after the due date in force" is not
met at an instant when the dossier's clock is stopped by a pause that started before its due
date (a merged pause that moves the due date, §3, still running or ended later): the due date
in force then is about to move, so the promise is not broken yet. A second pause opened inside
such a pause (a tax notice during a supplement request, say) extends it and does move the due
date, which is not what `PAUSE_AFTER_DUE` is about; an apology sent then is not late.

A line of `expected_audit.jsonl` (and of `/api/audit`'s `findings`) is the dict of
`finding_row`: kind, dossier_code, unit, unit_name, procedure_code, at (local ISO time),
due_date (local ISO), detail (the extended `NgayHenTra`, local ISO, for `DUE_DATE_EXTENDED`; the
pause kind for `PAUSE_AFTER_DUE`; null for `APOLOGY_AFTER_DUE`), department and officer (the
holder at `at`, rules.md §4), and a one-line Vietnamese message.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from hub.domain.calendar import WorkingCalendar, to_local
from hub.domain.dossier import DossierFacts
from hub.domain.events import EventKind, Source

DUE_DATE_EXTENDED = "DUE_DATE_EXTENDED"
PAUSE_AFTER_DUE = "PAUSE_AFTER_DUE"
APOLOGY_AFTER_DUE = "APOLOGY_AFTER_DUE"
KINDS = (DUE_DATE_EXTENDED, PAUSE_AFTER_DUE, APOLOGY_AFTER_DUE)
KIND_LABEL = {
    DUE_DATE_EXTENDED: "Gia hạn ngày hẹn trả không có phiếu xin lỗi",
    PAUSE_AFTER_DUE: "Tạm dừng sau khi đã quá hạn",
    APOLOGY_AFTER_DUE: "Phiếu xin lỗi gửi sau hạn trả",
}


class Finding(NamedTuple):
    """One finding as the summary carries it (epoch milliseconds)."""

    kind: str
    at: int
    due: int  # the due date in force at `at` (DUE_DATE_EXTENDED: the final due date, = at)
    extended: int | None  # DUE_DATE_EXTENDED: the later NgayHenTra
    note: str | None  # PAUSE_AFTER_DUE: the pause's kind


def _ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def _from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


class _Stopped:
    """Whether the dossier's clock is stopped at an instant by a pause that moves its due date:
    a non-empty merged interval holding the instant that started before the due date in force
    at its start. Bisection over the merged intervals: O(log n) a question."""

    def __init__(self, f: DossierFacts, calendar: WorkingCalendar) -> None:
        self.f = f
        self.starts = [iv.start for iv in f.merged]
        self.moving = []
        for iv in f.merged:
            due = f.due_at(iv.start, calendar)
            self.moving.append(not iv.empty and due is not None and iv.start < due)

    def __call__(self, t: datetime) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and self.moving[i] and self.f.merged[i].holds(t)


def detect(f: DossierFacts, calendar: WorkingCalendar) -> list[Finding]:
    """The dossier's §9 findings, sorted by time then kind. None without a due date."""
    if f.due_original is None:
        return []
    out: list[Finding] = []
    final = f.due_original
    for iv in f.merged:
        if iv.end is not None:
            due = f.due_at(iv.end, calendar)
            if due is not None and due > final:
                final = due
    if not f.apologies:
        extended = {
            e.appointment_at
            for e in f.events
            if e.source is Source.ONESTOP
            and e.kind is EventKind.SNAPSHOT
            and e.appointment_at is not None
            and e.appointment_at > final
        }
        for x in sorted({_ms(x) for x in extended}):
            out.append(Finding(DUE_DATE_EXTENDED, _ms(final), _ms(final), x, None))
    stopped = _Stopped(f, calendar)
    seen: set[datetime] = set()
    for p in f.pauses:  # sorted by (start, kind)
        if p.start in seen or not f.is_open(p.start):
            continue
        seen.add(p.start)
        due = f.due_at(p.start, calendar)
        if due is not None and p.start >= due and not stopped(p.start):
            out.append(Finding(PAUSE_AFTER_DUE, _ms(p.start), _ms(due), None, p.kind))
    for a in f.apologies:  # distinct, sorted
        due = f.due_at(a, calendar)
        if due is not None and a > due and not stopped(a):
            out.append(Finding(APOLOGY_AFTER_DUE, _ms(a), _ms(due), None, None))
    out.sort(key=lambda x: (x.at, KINDS.index(x.kind), x.extended or 0))
    return out


class Audited(Protocol):
    """What `findings` reads of a dossier summary (hub.domain.stats.Summary)."""

    code: str
    unit: str
    unit_name: str | None
    procedure: str | None

    @property
    def findings(self) -> list[Finding]: ...

    def holder_at(self, t: int) -> tuple[str | None, str | None]: ...


def _iso(value: int | None) -> str | None:
    return to_local(_from_ms(value)).isoformat() if value is not None else None


def _fmt(value: int) -> str:
    return to_local(_from_ms(value)).strftime("%d/%m/%Y %H:%M")


def _message(code: str, x: Finding) -> str:
    if x.kind == DUE_DATE_EXTENDED:
        assert x.extended is not None
        return (
            f"Hồ sơ {code}: ngày hẹn trả được đổi thành {_fmt(x.extended)}, sau hạn "
            f"{_fmt(x.due)}, mà không có phiếu xin lỗi"
        )
    if x.kind == PAUSE_AFTER_DUE:
        what = "chờ bổ sung" if x.note == "supplement" else "nghĩa vụ tài chính"
        return f"Hồ sơ {code}: tạm dừng ({what}) lúc {_fmt(x.at)}, đã quá hạn {_fmt(x.due)}"
    return f"Hồ sơ {code}: phiếu xin lỗi gửi lúc {_fmt(x.at)}, sau hạn {_fmt(x.due)}"


def finding_row(s: Audited, x: Finding) -> dict[str, Any]:
    """One finding for people and files: a line of expected_audit.jsonl."""
    department, officer = s.holder_at(x.at)
    return {
        "kind": x.kind,
        "dossier_code": s.code,
        "unit": s.unit,
        "unit_name": s.unit_name,
        "procedure_code": s.procedure,
        "at": _iso(x.at),
        "due_date": _iso(x.due),
        "detail": _iso(x.extended) if x.extended is not None else x.note,
        "department": department,
        "officer": officer,
        "message": _message(s.code, x),
    }


def findings(
    summaries: Iterable[Audited],
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Every finding with its time in `[start, end)` (None: unbounded) and at or before `now`,
    sorted by time, then dossier code, then kind."""
    lo = _ms(start) if start is not None else None
    hi = _ms(end) if end is not None else None
    t_now = _ms(now)
    picked: list[tuple[int, str, int, Audited, Finding]] = []
    for s in summaries:
        for x in s.findings:
            if x.at > t_now or (lo is not None and x.at < lo) or (hi is not None and x.at >= hi):
                continue
            picked.append((x.at, s.code, KINDS.index(x.kind), s, x))
    picked.sort(key=lambda p: (p[0], p[1], p[2], p[4].extended or 0))
    return [finding_row(s, x) for _, _, _, s, x in picked]
