"""What the simulator makes: a dossier as planned, one event in one system, one message as sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.simulate.catalogue import Procedure
from hub.simulate.units import Unit


@dataclass(slots=True)
class Dossier:
    seq: int
    key: str  # the hub's dossier key: one-stop code, or land:<id> / civil:<id>
    code: str | None  # one-stop code (None when bypassed)
    unit: Unit
    procedure: Procedure
    sector: str
    anchor: datetime  # receipt (or first sectoral event when bypassed)
    applicant: str
    id_number: str
    channel: str  # KenhThucHien 1/2/3
    vendor: str
    land_style: str
    land_id: str | None = None
    civil_id: str | None = None
    civil_kind: str | None = None
    land_id_on_events: bool = True
    due: datetime | None = None  # original due date
    due_current: datetime | None = None
    finished_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str = "result"  # result | refused | stopped | withdrawn
    late: bool = False
    unreported: bool = False
    bypass: bool = False
    step_overdue: bool = False
    apology: bool = False
    apology_on_time: bool = False  # an apology dated at or before the due date
    supplement: bool = False
    tax: bool = False
    submitted_at: datetime | None = None  # online submission (status 1)

    def summary(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "dossier": self.key,
            "sector": self.sector,
            "procedure": self.procedure.code,
            "unit": self.unit.code,
            "vendor": self.vendor if not self.bypass else None,
            "channel": self.channel,
            "anchor": iso(self.anchor),
            "due": iso(self.due),
            "due_current": iso(self.due_current),
            "finished_at": iso(self.finished_at),
            "closed_at": iso(self.closed_at),
            "outcome": self.outcome,
            "late": self.late,
            "unreported": self.unreported,
            "bypass": self.bypass,
            "step_overdue": self.step_overdue,
            "apology": self.apology,
            "apology_on_time": self.apology_on_time,
            "supplement": self.supplement,
            "tax": self.tax,
        }


@dataclass(slots=True)
class Ev:
    """One thing that happened in one system: `at` is when (its rule time for all but snapshots,
    which are pushed at `at` and carry the times in `a`)."""

    at: datetime
    source: str
    # onestop: snapshot step apology; land: handover supp_req supp_recv tax_result close info;
    # tax: tax; civil: civil
    kind: str
    a: dict[str, Any]
    follower: bool = False  # ends a step's wait (rules.md §5 STEP_OVERDUE)


@dataclass(slots=True)
class Msg:
    """One message as sent: its source, items, explicit event time and send time, and noise."""

    sent_at: datetime
    event_time: datetime | None  # rules.md §6; None when it has no rule time or is malformed
    source: str
    dossier: Dossier
    evs: tuple[Ev, ...]
    note: str = ""  # "", duplicate, late, late-day, malformed:<REASON>
    malformed: str | None = None
    variant: int = 0  # picks among ways of rendering (malformed shapes, vendor details)
