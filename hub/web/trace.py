"""A dossier's trace for people (`/api/dossiers/{code}`): pure, from its events and the clock.

Every event in time order with its source; every hand-over with its holder, how long it held
the dossier and its step deadline (overrun marked); the pauses; the original and the current due
date; the alerts, raised and resolved, up to "now"; the audit findings (rules.md §9) up to
"now", as /api/audit lists them. Only what the common event carries, so no
applicant identity (the connectors never put `SoGiayToChuHoSo`/`ChuHoSo` in it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.domain.audit import finding_row
from hub.domain.calendar import TZ
from hub.domain.dossier import DossierFacts
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent
from hub.domain.stats import contribution, ms, summarize

KIND_LABEL = {
    "SNAPSHOT": "Đồng bộ hồ sơ",
    "STEP": "Cập nhật tiến độ",
    "APOLOGY": "Phiếu xin lỗi",
    "LAND_HANDOVER": "Luân chuyển hồ sơ (đất đai)",
    "LAND_SUPPLEMENT_REQUESTED": "Chờ bổ sung (đất đai)",
    "LAND_SUPPLEMENT_RECEIVED": "Đã bổ sung (đất đai)",
    "LAND_TAX_RESULT": "Kết quả thuế (đất đai)",
    "LAND_CLOSED": "Kết thúc (đất đai)",
    "LAND_INFO": "Thông tin (đất đai)",
    "TAX_OBLIGATION_RECEIVED": "Nhận hồ sơ nghĩa vụ tài chính",
    "TAX_NOTICE_ISSUED": "Ra thông báo thuế",
    "TAX_PAID": "Đã nộp thuế",
    "TAX_NOTICE_CANCELLED": "Hủy thông báo thuế",
    "CIVIL": "Hộ tịch",
}
STATE_LABEL = {
    "finished_on_time": "Đã giải quyết đúng hạn",
    "finished_late": "Đã giải quyết trễ hạn",
    "closed_without_result": "Kết thúc không có kết quả",
    "open_within_due": "Đang xử lý trong hạn",
    "open_past_due": "Đang xử lý trễ hạn",
    "not_received": "Chưa tiếp nhận",
}


def iso(t: datetime | None) -> str | None:
    return t.astimezone(TZ).isoformat() if t is not None else None


def _event(ev: DossierEvent) -> dict[str, Any]:
    return {
        "time": iso(ev.event_time),
        "source": ev.source.value,
        "kind": ev.kind.value,
        "label": KIND_LABEL.get(ev.kind.value, ev.kind.value),
        "status": ev.status,
        "civil_status": ev.civil_status.value if ev.civil_status else None,
        "holder_unit": ev.holder_unit,
        "holder_officer": ev.holder_officer,
        "step_deadline": iso(ev.step_deadline),
        "received_at": iso(ev.received_at),
        "appointment_at": iso(ev.appointment_at),
        "apology_at": iso(ev.apology_at),
        "notice_no": ev.notice_no,
        "note": ev.note,
    }


def _handovers(f: DossierFacts, now: datetime) -> list[dict[str, Any]]:
    deadlines = {(s.source, s.at): s.deadline for s in f.steps}
    out = []
    hs = f.handovers
    for i, h in enumerate(hs):
        nxt = hs[i + 1].at if i + 1 < len(hs) else None
        end = nxt
        if f.closed_at is not None and h.at <= f.closed_at and (end is None or f.closed_at < end):
            end = f.closed_at
        elif f.closed_at is not None and end is None:  # recorded after the closing: held by no one
            end = h.at
        until = end if end is not None else now
        deadline = deadlines.get((h.source, h.at))
        out.append(
            {
                "from": iso(h.at),
                "until": iso(end),
                "source": h.source.value,
                "unit": h.unit,
                "officer": h.officer,
                "duration_s": max(0, int((until - h.at).total_seconds())),
                "ongoing": end is None,
                "step_deadline": iso(deadline),
                "overrun": deadline is not None and until > deadline,
            }
        )
    return out


def build_trace(
    code: str, events: Iterable[DossierEvent], engine: Engine, now: datetime
) -> dict[str, Any]:
    evs = list(events)
    f = engine.facts(code, evs)
    summary = summarize(f, engine.calendar, engine.grace_working_days)
    got = contribution(summary, ms(now))
    state = "not_received"
    if got is not None:
        state = next(
            k
            for k in (
                "finished_on_time",
                "finished_late",
                "closed_without_result",
                "open_past_due",
                "open_within_due",
            )
            if got.counts[k]
        )
    alerts: dict[str, dict[str, Any]] = {}
    for a in engine.evaluate(code, evs, {}, now, now).alerts:
        row = alerts.setdefault(
            a.alert_id,
            {
                "alert_id": a.alert_id,
                "type": a.type.value,
                "raised_at": None,
                "resolved_at": None,
                "message": a.message,
                "responsible_unit": a.responsible_unit,
                "responsible_officer": a.responsible_officer,
                "due_current": iso(a.due_current),
            },
        )
        if a.state.value == "RAISED":
            row["raised_at"] = iso(a.condition_at)
            row["message"] = a.message
        else:
            row["resolved_at"] = iso(a.condition_at)
    unit, officer = f.holder_at(now)
    return {
        "code": code,
        "unit_code": summary.unit,
        "unit_name": summary.unit_name,
        "procedure_code": f.procedure_code,
        "procedure_name": f.procedure_name,
        "channel": f.channel,
        "received_at": iso(f.received_at),
        "due_original": iso(f.due_original),
        "due_current": iso(f.due_at(now, engine.calendar)),
        "closed_at": iso(f.closed_at),
        "closed_by": f.closing.source.value if f.closing else None,
        "finished": bool(f.closing and f.closing.with_result),
        "state": state,
        "state_label": STATE_LABEL[state],
        "paused": f.is_paused(now),
        "supplement_requests": f.supplement_requests,
        "holder": {"unit": unit, "officer": officer},
        "as_of": iso(now),
        "events": [_event(e) for e in f.events],
        "handovers": _handovers(f, now),
        "pauses": [{"kind": p.kind, "start": iso(p.start), "end": iso(p.end)} for p in f.pauses],
        "alerts": sorted(alerts.values(), key=lambda a: (a["raised_at"] or "", a["type"])),
        # rules.md §9: records that hide lateness, those whose time has come
        "findings": [finding_row(summary, x) for x in summary.findings if x.at <= ms(now)],
    }
