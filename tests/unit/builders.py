"""Building common dossier events by hand for rule tests."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from hub.domain.calendar import TZ
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source

CODE = "000.00.12.H49-261103-0001"
_ids = itertools.count()


def t(text: str) -> datetime:
    """'03/11 08:30' (2026) or '03/11/2026 08:30', local time."""
    if text.count("/") == 1:
        day, clock = text.split(" ")
        text = f"{day}/2026 {clock}"
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=TZ)


def _ev(source: Source, kind: EventKind, at: datetime | None, **kw: Any) -> DossierEvent:
    kw.setdefault("dossier_code", CODE)
    return DossierEvent(
        event_id=kw.pop("event_id", f"e{next(_ids)}"),
        source=source,
        kind=kind,
        event_time=at,
        **kw,
    )


def snapshot(
    received: str | None = "03/11 08:30",
    due: str | None = None,
    status: int = 2,
    first: bool = True,
    procedure: str | None = "1.013831",
    **kw: Any,
) -> DossierEvent:
    r = t(received) if received else None
    return _ev(
        Source.ONESTOP,
        EventKind.SNAPSHOT,
        r,
        status=status,
        first_sync=first,
        received_at=r if status != 1 else None,
        appointment_at=t(due) if due else None,
        procedure_code=procedure,
        unit_name="Chi nhánh VPĐKĐĐ Thăng Bình",
        **kw,
    )


def step(
    at: str,
    status: int = 4,
    deadline: str | None = None,
    unit: str = "Tổ thẩm định",
    officer: str = "Trần Thị Bình",
) -> DossierEvent:
    return _ev(
        Source.ONESTOP,
        EventKind.STEP,
        t(at),
        status=status,
        step_deadline=t(deadline) if deadline else None,
        holder_unit=unit,
        holder_officer=officer,
    )


def apology(at: str) -> DossierEvent:
    return _ev(Source.ONESTOP, EventKind.APOLOGY, t(at), apology_at=t(at))


def land(kind: EventKind, at: str, **kw: Any) -> DossierEvent:
    if "deadline" in kw:
        kw["step_deadline"] = t(kw.pop("deadline"))
    return _ev(Source.LAND, kind, t(at), **kw)


def tax(kind: EventKind, at: str, notice: str | None = "TB-1") -> DossierEvent:
    return _ev(Source.TAX, kind, t(at), notice_no=notice)


def civil(status: CivilStatus, at: str, **kw: Any) -> DossierEvent:
    kw.setdefault("holder_unit", "UBND xã Bình Minh")
    kw.setdefault("holder_officer", "Võ Thị Hoa")
    return _ev(Source.CIVIL, EventKind.CIVIL, t(at), civil_status=status, **kw)
