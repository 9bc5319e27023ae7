"""One dossier, one evaluation: which alert transitions are due now, and when to look again.

The stream layer keeps, per dossier, its events and what it has emitted; it calls `evaluate`
when an event arrives and when the dossier's wake-up time comes. Pure: the clock is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mypy_extensions import mypyc_attr

from hub.domain.alerts import Alert, AlertState, AlertType
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.dossier import DossierFacts, derive
from hub.domain.events import DossierEvent
from hub.domain.messages import alert_id, build_alert
from hub.domain.rules import Transition, timeline


@dataclass
class Emitted:
    """What the hub has said about one alert id."""

    type: str
    occurrence: str
    raised_at: datetime
    resolved_at: datetime | None = None
    retracted: bool = False  # late data showed it wrong; a late-data RESOLVED was sent

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None or self.retracted

    @property
    def identity(self) -> tuple[str, str, datetime]:
        return (self.type, self.occurrence, self.raised_at)


@dataclass(frozen=True)
class Judged:
    """A dossier's facts and timeline, and the events they come from. They depend on nothing
    else (the calendar, the catalogue and the grace are the engine's), so an evaluation of the
    same events, at another "now" (a deadline come due), takes them as they are. Neither is
    changed once made: the rules, the alerts and the summary only read them."""

    code: str
    events: tuple[DossierEvent, ...]
    facts: DossierFacts
    transitions: list[Transition]

    def of(self, code: str, events: Sequence[DossierEvent]) -> bool:
        """Whether these are the dossier and the events judged: the same event objects (events
        are immutable), in the same order."""
        mine = self.events
        return (
            code == self.code
            and len(events) == len(mine)
            and all(a is b for a, b in zip(events, mine, strict=True))
        )


@dataclass
class Evaluation:
    alerts: list[Alert] = field(default_factory=list)
    next_wake: datetime | None = None
    facts: DossierFacts | None = None
    # the rules' timeline of `facts` (the summary reads it too, rather than run the rules again)
    transitions: list[Transition] = field(default_factory=list)
    # facts and timeline with their events, for the next evaluation of the same events
    judged: Judged | None = None
    reused: bool = False  # `judged` was the one given: the facts are those of the last time


# tests judge with engines of their own (one that fails on a dossier, one that counts): compiled
# (hub/native.py), a class takes Python subclasses only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass(frozen=True)
class Engine:
    calendar: WorkingCalendar
    catalog: Catalog
    grace_working_days: int = 1

    def facts(self, code: str, events: Iterable[DossierEvent]) -> DossierFacts:
        return derive(code, events, self.calendar, self.catalog)

    def evaluate(
        self,
        code: str,
        events: Iterable[DossierEvent],
        emitted: dict[str, Emitted],
        now: datetime | None,
        emitted_at: datetime,
        last: Judged | None = None,
    ) -> Evaluation:
        """Emit what is due at `now` (None: nothing yet) and update `emitted` in place.
        `last`: the last evaluation's `judged`, taken as it is if it is of these events.

        What was emitted is checked against what the known events now imply: an alert whose
        raise the timeline no longer has, or whose resolve it puts elsewhere, was judged on
        incomplete data (late data, rules.md §5). It is retracted with a RESOLVED carrying
        `details.reason = "late-data"` and its raise time, and the alert that did hold is
        emitted under an id of its own.
        """
        events = events if isinstance(events, list | tuple) else list(events)
        if last is not None and last.of(code, events):
            facts, transitions = last.facts, last.transitions
            out = Evaluation(facts=facts, transitions=transitions, judged=last, reused=True)
        else:
            facts = self.facts(code, events)
            transitions = timeline(facts, self.calendar, self.grace_working_days)
            made = Judged(code, tuple(events), facts, transitions)
            out = Evaluation(facts=facts, transitions=transitions, judged=made)
        if now is None:
            out.next_wake = transitions[0].condition_at if transitions else None
            return out
        raises: dict[tuple[str, str, datetime], Transition] = {}
        resolves: dict[tuple[str, str, datetime], Transition] = {}
        for t in transitions:
            ident = (t.type.value, t.occurrence, t.raised_at)
            (raises if t.state is AlertState.RAISED else resolves)[ident] = t
        corrections: dict[tuple[str, str, datetime], int] = {}
        for aid, seen in emitted.items():
            if not seen.retracted:
                wrong = seen.identity not in raises or (
                    seen.resolved_at is not None
                    and (
                        seen.identity not in resolves
                        or resolves[seen.identity].condition_at != seen.resolved_at
                    )
                )
                if wrong:
                    seen.retracted = True
                    out.alerts.append(self._retraction(facts, aid, seen, emitted_at))
            if seen.retracted:
                corrections[seen.identity] = corrections.get(seen.identity, 0) + 1
        # the alert each identity has now, found without hashing ids again
        live = {seen.identity: aid for aid, seen in emitted.items() if not seen.retracted}
        for ident, raise_ in raises.items():
            if raise_.condition_at > now:
                continue
            current = live.get(ident)
            if current is None:
                current = alert_id(code, raise_, corrections.get(ident, 0))
                emitted[current] = Emitted(*ident)
                out.alerts.append(build_alert(facts, raise_, self.calendar, emitted_at, current))
            known = emitted[current]
            resolve = resolves.get(ident)
            if resolve is not None and resolve.condition_at <= now and not known.resolved:
                known.resolved_at = resolve.condition_at
                out.alerts.append(build_alert(facts, resolve, self.calendar, emitted_at, current))
        out.alerts.sort(key=lambda a: (a.condition_at, a.state is AlertState.RESOLVED))
        out.next_wake = min(
            (t.condition_at for t in transitions if t.condition_at > now), default=None
        )
        return out

    def _retraction(
        self, facts: DossierFacts, aid: str, seen: Emitted, emitted_at: datetime
    ) -> Alert:
        t = Transition(
            seen.raised_at,
            AlertType(seen.type),
            AlertState.RESOLVED,
            seen.occurrence,
            seen.raised_at,
        )
        return build_alert(facts, t, self.calendar, emitted_at, aid, {"reason": "late-data"})
