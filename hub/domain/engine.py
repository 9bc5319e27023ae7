"""One dossier, one evaluation: which alert transitions are due now, and when to look again.

The stream layer keeps, per dossier, its events and what it has emitted; it calls `evaluate`
when an event arrives and when the dossier's wake-up time comes. Pure: the clock is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hub.domain.alerts import Alert, AlertState, AlertType
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.dossier import DossierFacts, derive
from hub.domain.events import DossierEvent
from hub.domain.messages import alert_id, build_alert
from hub.domain.rules import Transition, timeline


@dataclass
class Emitted:
    """What the hub has said about one alert: its raise time and whether it resolved it."""

    type: str
    occurrence: str
    raised_at: datetime
    resolved: bool = False


@dataclass
class Evaluation:
    alerts: list[Alert] = field(default_factory=list)
    next_wake: datetime | None = None
    facts: DossierFacts | None = None


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
    ) -> Evaluation:
        """Emit what is due at `now` (None: nothing yet) and update `emitted` in place."""
        facts = self.facts(code, events)
        transitions = timeline(facts, self.calendar, self.grace_working_days)
        out = Evaluation(facts=facts)
        if now is None:
            out.next_wake = transitions[0].condition_at if transitions else None
            return out
        raised_ids: set[str] = set()
        pending: list[Transition] = []
        for t in transitions:
            aid = alert_id(code, t)
            if t.state is AlertState.RAISED:
                raised_ids.add(aid)
            if t.condition_at > now:
                pending.append(t)
                continue
            seen = emitted.get(aid)
            if t.state is AlertState.RAISED and seen is None:
                emitted[aid] = Emitted(t.type.value, t.occurrence, t.raised_at)
                out.alerts.append(build_alert(facts, t, self.calendar, emitted_at))
            elif t.state is AlertState.RESOLVED and seen is not None and not seen.resolved:
                seen.resolved = True
                out.alerts.append(build_alert(facts, t, self.calendar, emitted_at))
        # raised before, but the events known now say the condition never held there (§5)
        for aid, seen in emitted.items():
            if seen.resolved or aid in raised_ids:
                continue
            seen.resolved = True
            retraction = Transition(
                seen.raised_at,
                _type(seen.type),
                AlertState.RESOLVED,
                seen.occurrence,
                seen.raised_at,
            )
            out.alerts.append(
                build_alert(facts, retraction, self.calendar, emitted_at, {"reason": "late-data"})
            )
        out.next_wake = min((t.condition_at for t in pending), default=None)
        return out


def _type(value: str) -> AlertType:
    return AlertType(value)
