"""Turning a transition into the alert people read: holder, due dates, one Vietnamese line."""

from __future__ import annotations

import uuid
from datetime import datetime

from hub.domain.alerts import Alert, AlertState, AlertType
from hub.domain.calendar import WorkingCalendar, to_local
from hub.domain.dossier import DossierFacts
from hub.domain.rules import Transition

_NAMESPACE = uuid.UUID("6f1b7c2e-4d0a-5b8e-9c3f-1a2b3c4d5e6f")
_SYSTEM = {"land": "hệ thống đất đai", "civil": "hệ thống hộ tịch", "onestop": "hệ thống một cửa"}


def alert_id(dossier_code: str, t: Transition, correction: int = 0) -> str:
    """Type + dossier + occurrence (rules.md §5), and the raise time.

    The raise time is part of the identity so that when late data shows an alert never held
    where it was raised, the alert that did hold can still be raised. `correction` counts the
    earlier alerts of the same type, occurrence and raise time that late data retracted (their
    resolve turned out wrong); it is 0, and leaves the id as it was, whenever no late data was
    met. All of it is event time, so a replay yields the same ids.
    """
    name = f"{t.type.value}|{dossier_code}|{t.occurrence}|{to_local(t.raised_at).isoformat()}"
    if correction:
        name += f"|{correction}"
    return str(uuid.uuid5(_NAMESPACE, name))


def _fmt(t: datetime | None) -> str:
    return to_local(t).strftime("%d/%m/%Y %H:%M") if t else "?"


def _occurrence_time(t: Transition) -> datetime:
    return datetime.fromisoformat(t.occurrence.split("=", 1)[1])


def _text(code: str, t: Transition, f: DossierFacts, due: datetime | None, where: str) -> str:
    kind = t.type
    if kind is AlertType.DUE_SOON:
        body = f"Hồ sơ {code} sắp đến hạn trả (hẹn trả {_fmt(due)})"
    elif kind in (AlertType.PROCESSING_LATE, AlertType.APOLOGY_MISSING):
        extra = f", gia hạn do tạm dừng đến {_fmt(due)}" if due != f.due_original else ""
        body = f"Hồ sơ {code} đang xử lý trễ hạn (hẹn trả {_fmt(f.due_original)}{extra})"
        if kind is AlertType.APOLOGY_MISSING:
            body += ", chưa có phiếu xin lỗi và hẹn lại ngày trả kết quả"
    elif kind is AlertType.UNREPORTED_COMPLETION:
        system = _SYSTEM.get(t.occurrence.split("-", 1)[0], "hệ thống chuyên ngành")
        body = (
            f"Hồ sơ {code} đã được {system} kết thúc lúc {_fmt(_occurrence_time(t))} "
            "nhưng chưa cập nhật trên hệ thống một cửa"
        )
    elif kind is AlertType.NOT_RECEIVED_VIA_ONESTOP:
        body = (
            f"Hồ sơ {code} được xử lý từ {_fmt(_occurrence_time(t))} "
            "nhưng không được tiếp nhận qua hệ thống một cửa điện tử"
        )
    else:
        step = _occurrence_time(t)
        body = (
            f"Hồ sơ {code} quá hạn xử lý bước chuyển lúc {_fmt(step)} (hạn {_fmt(t.condition_at)})"
        )
    if t.state is AlertState.RESOLVED:
        return f"Đã hết cảnh báo lúc {_fmt(t.condition_at)}: {body}"
    return f"{body}, đang ở {where}"


def build_alert(
    f: DossierFacts,
    t: Transition,
    calendar: WorkingCalendar,
    emitted_at: datetime,
    aid: str | None = None,
    details: dict[str, str] | None = None,
) -> Alert:
    """The alert for transition `t`; `aid` is its id when the caller knows it already."""
    unit, officer = f.holder_at(t.condition_at)
    due = f.due_at(t.condition_at, calendar)
    where = ", ".join(x for x in (unit, officer) if x) or "không rõ"
    return Alert(
        alert_id=aid or alert_id(f.code, t),
        type=t.type,
        state=t.state,
        dossier_code=f.code,
        procedure_code=f.procedure_code,
        unit_code=f.unit_code,
        responsible_unit=unit,
        responsible_officer=officer,
        due_original=f.due_original,
        due_current=due,
        condition_at=t.condition_at,
        emitted_at=emitted_at,
        message=_text(f.code, t, f, due, where),
        details={"occurrence": t.occurrence, **(details or {})},
    )
