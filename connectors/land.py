"""Land registration system connector (sources.md §2): one callback per message.

Callbacks come under their canonical or their route names. The informational callbacks are
accepted and counted (`Decoded.informational`) but produce no event, so they can never be taken
as the land system's first event of a dossier. `DongBoKetQuaThue` produces a `LAND_TAX_RESULT`
event without an event time.
"""

from __future__ import annotations

import hmac
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors._base import Context, Decoded, Reason
from connectors._identity import Invalid, guarded, make_event
from connectors._json import BadJson, WrongType, code, get, parse, show, text
from connectors._times import BadTime, land_time
from hub.domain.events import EventKind, Source

K = EventKind
CALLBACKS: dict[str, EventKind] = {
    "DongBoTrangThaiLuanChuyenHoSo": K.LAND_HANDOVER,
    "ChuyenHoSo": K.LAND_HANDOVER,
    "DongBoTrangThaiChoBoSung": K.LAND_SUPPLEMENT_REQUESTED,
    "YeuCauBoSungHoSo": K.LAND_SUPPLEMENT_REQUESTED,
    "DongBoTrangThaiDaBoSung": K.LAND_SUPPLEMENT_RECEIVED,
    "NhanBoSungHoSo": K.LAND_SUPPLEMENT_RECEIVED,
    "DongBoKetQuaThue": K.LAND_TAX_RESULT,
    "GuiKetQuaThue": K.LAND_TAX_RESULT,
    "DongBoTrangThaiKetThuc": K.LAND_CLOSED,
    "KetThucHoSo": K.LAND_CLOSED,
}
INFORMATIONAL = frozenset(
    {"ThongBaoNhapSaiThuTuc", "ThueChuyenTraHoSoDoSai", "YeuCauCapNhatHoSo", "CungCapSoBienNhan"}
)
# the callback's own time: (folded field names in the order read, label)
OWN_TIME: dict[EventKind, tuple[tuple[str, ...], str]] = {
    K.LAND_HANDOVER: (("ngaychuyen",), "NgayChuyen"),
    K.LAND_SUPPLEMENT_REQUESTED: (("ngaychobosung",), "NgayChoBoSung"),
    K.LAND_SUPPLEMENT_RECEIVED: (("ngaydabosung", "ngaynhanbosung"), "NgayDaBoSung"),
    K.LAND_CLOSED: (("ngayketthuc",), "NgayKetThuc"),
}
MAX_WORKING_DAYS = 1000


def _authorise(doc: dict[str, Any], expected: str | None) -> None:
    if not expected:
        return
    given = doc.get("securitycode")
    if not (isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())):
        raise Invalid(Reason.AUTH_FAILED, "SecurityCode is absent or does not match")


def _callback(doc: dict[str, Any]) -> str:
    try:
        name = code(doc, "callback", "callback")
    except WrongType as exc:
        raise Invalid(Reason.SCHEMA_ERROR, str(exc)) from None
    if name is None:
        raise Invalid(Reason.SCHEMA_ERROR, "callback is missing")
    if name not in CALLBACKS and name not in INFORMATIONAL:
        raise Invalid(Reason.UNKNOWN_STATUS, f"unknown callback {show(name)}")
    return name


def _keys(doc: dict[str, Any]) -> tuple[str | None, str | None]:
    try:
        receipt_no = code(doc, "sobiennhan", "SoBienNhan")
        land_id = code(doc, "mahosovbdlis", "MaHoSoVBDLIS")
    except WrongType as exc:
        raise Invalid(Reason.SCHEMA_ERROR, str(exc)) from None
    if receipt_no is None and land_id is None:
        raise Invalid(Reason.NO_DOSSIER_KEY, "neither SoBienNhan nor MaHoSoVBDLIS")
    return receipt_no, land_id


def _own_time(doc: dict[str, Any], kind: EventKind) -> datetime | None:
    if kind not in OWN_TIME:
        return None
    names, label = OWN_TIME[kind]
    for name in names:  # NgayNhanBoSung is read only when NgayDaBoSung is absent
        value = get(doc, name)
        if value is not None:
            try:
                return land_time(value, label)
            except BadTime as exc:
                raise Invalid(Reason.BAD_TIME, str(exc)) from None
    raise Invalid(Reason.SCHEMA_ERROR, f"{label} is missing")


def _deadline(doc: dict[str, Any], start: datetime, ctx: Context) -> datetime | None:
    """HanXuLy: a land time, or a number of working days from NgayChuyen (0 < n <= 1000)."""
    value = get(doc, "hanxuly")
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return land_time(value, "HanXuLy")
        except BadTime as exc:
            raise Invalid(Reason.BAD_TIME, str(exc)) from None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Invalid(Reason.BAD_TIME, f"HanXuLy={show(value)} is neither a time nor a number")
    if not 0 < value <= MAX_WORKING_DAYS:
        raise Invalid(Reason.BAD_TIME, f"HanXuLy={value} is not in (0, 1000] working days")
    return ctx.calendar.add_working_days(start, math.ceil(value))


def _pause(doc: dict[str, Any]) -> bool:
    value = get(doc, "latamdung")
    if value is None or isinstance(value, bool):
        return value is True
    raise Invalid(Reason.SCHEMA_ERROR, f"LaTamDung={show(value)} is not a boolean")


def _with_result(doc: dict[str, Any]) -> bool:
    value = get(doc, "trangthaiketthuc")
    if value is None:
        raise Invalid(Reason.SCHEMA_ERROR, "TrangThaiKetThuc is missing")
    if type(value) is int:
        return value == 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value.strip("0") == ""
    raise Invalid(Reason.SCHEMA_ERROR, f"TrangThaiKetThuc={show(value)} is not an integer")


def _new_due(doc: dict[str, Any]) -> datetime | None:
    try:
        return land_time(get(doc, "ngayhentramoi"))
    except BadTime:
        return None


@guarded("land")
def decode(raw: bytes, ctx: Context) -> Decoded:
    """Decode one land callback: one event, an informational count, or one rejection."""
    try:
        doc = parse(raw, fold=True)
    except BadJson as exc:
        raise Invalid(Reason.DECODE_ERROR, str(exc)) from None
    if not isinstance(doc, dict):
        raise Invalid(Reason.SCHEMA_ERROR, "the message is not a JSON object")
    _authorise(doc, ctx.land_security_code)
    name = _callback(doc)
    receipt_no, land_id = _keys(doc)
    if name in INFORMATIONAL:
        return Decoded(informational=1)
    kind = CALLBACKS[name]
    at = _own_time(doc, kind)
    fields: dict[str, Any] = {
        "source": Source.LAND,
        "kind": kind,
        "dossier_code": receipt_no or f"land:{land_id}",
        "onestop_code": receipt_no,
        "sector_id": f"land:{land_id}" if land_id is not None else None,
        "event_time": at,
        "note": text(doc, "noidungxuly") or text(doc, "noidung"),
    }
    if kind is K.LAND_HANDOVER and at is not None:
        fields["step_deadline"] = _deadline(doc, at, ctx)
        fields["holder_unit"] = text(doc, "phongbannhan")
        fields["holder_officer"] = text(doc, "macanbonhan")
    elif kind is K.LAND_SUPPLEMENT_REQUESTED:
        fields["pause"] = _pause(doc)
    elif kind is K.LAND_SUPPLEMENT_RECEIVED:
        fields["new_due_at"] = _new_due(doc)
    elif kind is K.LAND_CLOSED:
        fields["with_result"] = _with_result(doc)
    return Decoded(events=[make_event(ctx, None, fields)])
