"""Per-unit statistics, the execution map of rules.md §7. Pure: no Kafka, no clock.

Two steps, so that the same code serves the pure test and the live, province-wide view:

1. `summarize(facts, calendar, grace)` turns a dossier's facts into a `Summary`: a compact record
   of *times* (receipt, closing, the due date in force from each instant on, pause intervals,
   supplement requests, apologies, every alert interval of the rules' timeline, the current
   holder), and what §8 and §9 read (hub/domain/responsibility.py, hub/domain/audit.py): who
   held the dossier from when (departments and officers: the one personal name it carries,
   §8 is about officers; never the applicant's), the steps with their deadline, holder and
   overdue interval, and the audit findings. It depends on the dossier's events only, never on
   "now", so it changes only when an event arrives; the stream layer publishes it then
   (hub/stream/summaries.py). The rules' timeline is computed once for it.
2. `contribution(summary, as_of)` reads a summary at an instant: which of the §7 counters the
   dossier adds to. `unit_stats(summaries, start, end, now)` aggregates, per receiving unit, the
   dossiers received in `[start, end)`, each judged as of `min(end, now)`.

Choices where §7 leaves room (the sample's expected_unit_stats.json agrees with all of them):
- the receiving unit: the one-stop code's prefix; `land` for `land:<id>`; `civil:<CoQuan>` of the
  earliest civil event naming one (`civil` when none does); its name: `DonViXuLy` of any of the
  unit's dossiers (the first found in code order), the `CoQuan` for civil units, null for `land`;
- "finished" and "closed without result" are decided by the first closing; a finished dossier is
  on time when it has no due date, or finished at or before the due date in force then (ended
  pauses moved it), and had at most one supplement request;
- open past due: open, and `PROCESSING_LATE` raised at or before the instant (a dossier paused
  after becoming late stays late; one paused before its due date is within due);
- paused: open and inside a non-empty merged pause interval at the instant (also counted in one
  of the two before);
- `unreported_completions` / `not_received_via_onestop`: dossiers (not alerts) with such an alert
  raised at or before the instant, resolved or not;
- `supplements`: merged supplement pauses started by then; `apologies`: distinct `NgayXinLoi`;
- `online`: `KenhThucHien` 2; `online_share` = online / received (0.0 when none received);
- `on_time_rate` = finished on time / (finished + open past due), null when that is 0;
- `audit_findings`: the dossier's §9 findings with a time at or before the instant (a count
  the contract's expected_unit_stats.json predates).
Units are listed by code (code-point order). The per-procedure breakdown, also §7, is in
`unit_stats(..., by_procedure=True)` (each unit row gains `procedures`: rows of the same fields
keyed by `procedure_code`); the contract's file has the unit rows only.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, TypeAdapter

from hub.domain.alerts import AlertState, AlertType
from hub.domain.audit import KINDS, Finding, detect
from hub.domain.calendar import WorkingCalendar
from hub.domain.dossier import DossierFacts, _merge
from hub.domain.events import Source
from hub.domain.responsibility import (
    SYSTEMS,
    HolderEntry,
    StepEntry,
    holder_at,
    holder_history,
    steps,
)
from hub.domain.rules import Transition, timeline

COUNTERS = (
    "received",
    "finished_on_time",
    "finished_late",
    "open_within_due",
    "open_past_due",
    "paused",
    "closed_without_result",
    "unreported_completions",
    "not_received_via_onestop",
    "supplements",
    "apologies",
    "online",
    "audit_findings",
)


def ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def at(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def receiving_unit(facts: DossierFacts) -> tuple[str, str | None]:
    """(unit code, unit name) of rules.md §7."""
    if facts.code.startswith("land:"):
        return "land", None
    if facts.code.startswith("civil:"):
        agency = facts.civil_agency
        return (f"civil:{agency}", agency) if agency else ("civil", None)
    if facts.unit_code is not None:
        return facts.unit_code, facts.unit_name
    return facts.code.split(":", 1)[0], None  # onestop:/tax: keys: never received anyway


@dataclass
class Summary:
    """Everything the statistics, the metrics and the drill-down need of one dossier."""

    code: str
    unit: str
    unit_name: str | None = None
    procedure: str | None = None
    procedure_name: str | None = None
    in_catalog: bool = False
    channel: str | None = None
    received: int | None = None
    closed: tuple[int, bool] | None = None  # (time, with result): the first closing
    due: list[tuple[int, int]] = field(default_factory=list)  # (in force from, due date)
    paused: list[tuple[int, int | None]] = field(default_factory=list)  # non-empty, merged
    supplements: list[int] = field(default_factory=list)  # starts of merged supplement pauses
    apologies: list[int] = field(default_factory=list)
    # (type, raised, resolved or None); from the rules' timeline
    alerts: list[tuple[str, int, int | None]] = field(default_factory=list)
    holder: tuple[str | None, str | None] = (None, None)  # latest hand-over
    holder_since: int | None = None
    # rules.md §8 and §9 (hub/domain/responsibility.py, hub/domain/audit.py). Each list is
    # bounded by the dossier's events (MOTCUA_MAX_EVENTS_PER_DOSSIER).
    # the department before any hand-over (§4: the receiving unit's DonViXuLy)
    holder_initial: str | None = None
    # who held the dossier from when: (from, system, department, officer), §4's order
    holders: list[HolderEntry] = field(default_factory=list)
    # §8's steps: (at, deadline, department, officer, overdue from, followed at)
    steps: list[StepEntry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # §9, sorted by time

    # -- reading at an instant ----------------------------------------------------------------
    def due_at(self, t: int) -> int | None:
        due = None
        for start, value in self.due:
            if start > t:
                break
            due = value
        return due

    @property
    def due_original(self) -> int | None:
        return self.due[0][1] if self.due else None

    def is_open(self, t: int) -> bool:
        return (
            self.received is not None
            and self.received <= t
            and (self.closed is None or t < self.closed[0])
        )

    def is_paused(self, t: int) -> bool:
        return any(a <= t and (b is None or t < b) for a, b in self.paused)

    def raised(self, kind: AlertType, t: int) -> int | None:
        """When an alert of this type was first raised at or before `t`."""
        times = [r for k, r, _ in self.alerts if k == kind.value and r <= t]
        return min(times, default=None)

    def open_alerts(self, t: int) -> list[str]:
        return [k for k, r, s in self.alerts if r <= t and (s is None or s > t)]

    def past_due(self, t: int) -> bool:
        return self.is_open(t) and self.raised(AlertType.PROCESSING_LATE, t) is not None

    def holder_at(self, t: int) -> tuple[str | None, str | None]:
        """(department, officer) at `t` (rules.md §4): the alerts' responsible holder."""
        return holder_at(self.holders, self.holder_initial, t)

    def responsible_at(self, t: int) -> tuple[str | None, str | None]:
        """The holder at `t` as §8 counts it (hub/domain/responsibility.py)."""
        return holder_at(self.holders, self.holder_initial, t, RESPONSIBLE_SYSTEMS)

    # -- wire form ----------------------------------------------------------------------------
    def dumps(self) -> bytes:
        # The fields as they are: every value is a primitive or a list/tuple of them (Finding
        # is a NamedTuple), which json writes as asdict's deep copy would, in a tenth the time.
        values = {name: getattr(self, name) for name in _SUMMARY_FIELDS}
        return _WIRE.encode(values).encode()

    @classmethod
    def loads(cls, data: bytes) -> Summary:
        """Strict: a value of the wrong shape or type, or a time out of range, is a ValueError
        (the summary topic is read by every worker; one bad record must not reach the views)."""
        summary = _SUMMARY.validate_json(data)
        times = [summary.received, summary.holder_since, *summary.supplements, *summary.apologies]
        times += [t for pair in summary.due for t in pair]
        times += [t for pair in summary.paused for t in pair]
        times += [t for _, r, s in summary.alerts for t in (r, s)]
        times += [h[0] for h in summary.holders]
        if any(h[1] not in _SYSTEMS for h in summary.holders):
            raise ValueError(f"an unknown system in the summary of {summary.code[:60]!r}")
        times += [t for step in summary.steps for t in (step[0], step[1], step[4], step[5])]
        times += [t for x in summary.findings for t in (x.at, x.due, x.extended)]
        if summary.closed is not None:
            times.append(summary.closed[0])
        if any(t is not None and not 0 <= t <= MAX_MS for t in times):
            raise ValueError(f"a time out of range in the summary of {summary.code[:60]!r}")
        if any(kind not in _ALERT_TYPES for kind, _, _ in summary.alerts):
            raise ValueError(f"an unknown alert type in the summary of {summary.code[:60]!r}")
        if any(x.kind not in KINDS for x in summary.findings):
            raise ValueError(f"an unknown finding kind in the summary of {summary.code[:60]!r}")
        if any(a[0] > b[0] for a, b in itertools.pairwise(summary.holders)):
            raise ValueError(f"hand-overs out of order in the summary of {summary.code[:60]!r}")
        return summary


Summary.__pydantic_config__ = ConfigDict(strict=True)  # type: ignore[attr-defined]
_SUMMARY = TypeAdapter(Summary)
# what json.dumps(values, separators=(",", ":"), ensure_ascii=False) makes at each call, once
_WIRE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_SUMMARY_FIELDS = tuple(f.name for f in fields(Summary))
_ALERT_TYPES = frozenset(t.value for t in AlertType)
_SYSTEMS = frozenset(s.value for s in Source)
RESPONSIBLE_SYSTEMS = frozenset(s.value for s in SYSTEMS)
MAX_MS = 7_258_118_400_000  # 2200-01-01: no dossier time lies beyond it


def summarize(
    facts: DossierFacts,
    calendar: WorkingCalendar,
    grace_working_days: int,
    transitions: Iterable[Transition] | None = None,
) -> Summary:
    """The dossier's summary; `transitions`: its timeline, when the caller has it already
    (`timeline(facts, calendar, grace_working_days)`, as the engine's evaluation carries it)."""
    unit, name = receiving_unit(facts)
    s = Summary(
        code=facts.code,
        unit=unit,
        unit_name=name,
        procedure=facts.procedure_code,
        procedure_name=facts.procedure_name,
        in_catalog=facts.time_limit_wd is not None,
        channel=facts.channel,
        received=ms(facts.received_at) if facts.received_at else None,
    )
    if facts.closing is not None:
        s.closed = (ms(facts.closing.at), facts.closing.with_result)
    if facts.due_original is not None:
        start = min(facts.received_at, facts.due_original) if facts.received_at else None
        s.due = [(ms(start) if start else 0, ms(facts.due_original))]
        for iv in facts.merged:
            if iv.end is None:
                break
            due = facts.due_at(iv.end, calendar)
            if due is not None and ms(due) != s.due[-1][1]:
                s.due.append((ms(iv.end), ms(due)))
    s.paused = [
        (ms(iv.start), ms(iv.end) if iv.end else None) for iv in facts.merged if not iv.empty
    ]
    supplement = _merge([p for p in facts.pauses if p.kind == "supplement"])
    s.supplements = [ms(iv.start) for iv in supplement]  # len == facts.supplement_requests
    s.apologies = [ms(a) for a in facts.apologies]
    raised: dict[tuple[str, str, datetime], list[int | None]] = {}
    if transitions is None:
        transitions = timeline(facts, calendar, grace_working_days)
    for t in transitions:
        key = (t.type.value, t.occurrence, t.raised_at)
        if t.state is AlertState.RAISED:
            raised.setdefault(key, [ms(t.condition_at), None])
        elif key in raised:
            raised[key][1] = ms(t.condition_at)
    s.alerts = sorted(
        ((k[0], int(v[0] or 0), v[1]) for k, v in raised.items()), key=lambda a: (a[1], a[0])
    )
    if facts.handovers:
        last = facts.handovers[-1]
        s.holder = (last.unit, last.officer)
        s.holder_since = ms(last.at)
    else:
        s.holder = (facts.unit_name, None)
    s.holder_initial = facts.unit_name
    s.holders = holder_history(facts)
    s.steps = steps(facts)
    s.findings = detect(facts, calendar)
    return s


@dataclass
class Contribution:
    """What one dossier adds to its unit's row, as of an instant."""

    unit: str
    unit_name: str | None
    procedure: str | None
    counts: dict[str, int]


def contribution(s: Summary, as_of: int) -> Contribution | None:
    """None when the dossier is not received at `as_of`."""
    if s.received is None or s.received > as_of:
        return None
    c = dict.fromkeys(COUNTERS, 0)
    c["received"] = 1
    c["online"] = int(s.channel == "2")
    closed = s.closed if s.closed is not None and s.closed[0] <= as_of else None
    if closed is not None:
        when, with_result = closed
        if with_result:
            due = s.due_at(when)
            on_time = (due is None or when <= due) and len(s.supplements) <= 1
            c["finished_on_time" if on_time else "finished_late"] = 1
        else:
            c["closed_without_result"] = 1
    else:
        c["open_past_due" if s.past_due(as_of) else "open_within_due"] = 1
        c["paused"] = int(s.is_paused(as_of))
    c["unreported_completions"] = int(s.raised(AlertType.UNREPORTED_COMPLETION, as_of) is not None)
    c["not_received_via_onestop"] = int(
        s.raised(AlertType.NOT_RECEIVED_VIA_ONESTOP, as_of) is not None
    )
    c["supplements"] = sum(1 for t in s.supplements if t <= as_of)
    c["apologies"] = sum(1 for t in s.apologies if t <= as_of)
    c["audit_findings"] = sum(1 for x in s.findings if x.at <= as_of)
    return Contribution(s.unit, s.unit_name, s.procedure, c)


def _row(code: str, name: str | None, counts: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"unit_code": code, "unit_name": name}
    for key in COUNTERS:
        if key != "online":
            row[key] = counts[key]
    row["online"] = counts["online"]
    received = counts["received"]
    row["online_share"] = counts["online"] / received if received else 0.0
    judged = counts["finished_on_time"] + counts["finished_late"] + counts["open_past_due"]
    row["on_time_rate"] = counts["finished_on_time"] / judged if judged else None
    return row


class FirstNames:
    """The name each key (a unit, a procedure) gets from "the first dossier in code order" that
    gives one, found in one pass over the summaries in any order: the smallest code is kept."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[str, str | None]] = {}

    def offer(self, key: str, code: str, name: str | None) -> None:
        """A dossier's name for `key`; None names nothing (the key is known, without a name)."""
        first = self._first.get(key)
        if first is None or (name is not None and (first[1] is None or code < first[0])):
            self._first[key] = (code, name)

    def names(self) -> dict[str, str | None]:
        return {key: name for key, (_, name) in self._first.items()}


def unit_stats(
    summaries: Iterable[Summary],
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    *,
    by_procedure: bool = False,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """One row per receiving unit with a dossier received in `[start, end)`, as of
    `min(end, now)` (either may be None: unbounded)."""
    bounds = [ms(t) for t in (end, now) if t is not None]
    as_of = min(bounds) if bounds else 2**62
    lo = ms(start) if start is not None else None
    hi = ms(end) if end is not None else None
    totals: dict[str, dict[str, int]] = {}
    # a province's summaries are not all held at once to be sorted by code
    named = FirstNames()
    procs: dict[str, dict[str, dict[str, int]]] = {}
    for s in summaries:
        if s.received is None or (lo is not None and s.received < lo):
            continue
        if hi is not None and s.received >= hi:
            continue
        if unit is not None and s.unit != unit:
            continue
        got = contribution(s, as_of)
        if got is None:
            continue
        total = totals.setdefault(got.unit, dict.fromkeys(COUNTERS, 0))
        named.offer(got.unit, s.code, got.unit_name)
        for key, value in got.counts.items():
            total[key] += value
        if by_procedure:
            prow = procs.setdefault(got.unit, {}).setdefault(
                got.procedure or "", dict.fromkeys(COUNTERS, 0)
            )
            for key, value in got.counts.items():
                prow[key] += value
    names = named.names()
    out = []
    for code in sorted(totals):
        row = _row(code, names.get(code), totals[code])
        if by_procedure:
            rows = []
            for proc in sorted(procs.get(code, {})):
                prow = _row(code, names.get(code), procs[code][proc])
                del prow["unit_code"], prow["unit_name"]
                rows.append({"procedure_code": proc or None, **prow})
            row["procedures"] = rows
        out.append(row)
    return out
