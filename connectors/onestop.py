"""One-stop system connector (sources.md §1): snapshots, processing steps and apologies.

Accepts the canonical wrapper, `session`/`madonvi` wrappers, a single `data` object (item 0) and
bare lists (items classified by their fields). Each bad item is rejected with its index; the
valid items of the same message still produce events. A message of more than `Context.max_items`
items is rejected as a whole (`TOO_LARGE`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors._base import Context, Decoded, Reason, Rejection
from connectors._identity import Invalid, guarded, make_event
from connectors._json import BadJson, WrongType, ascii_lower, code, get, parse, show, text
from connectors._times import BadTime, onestop_time
from hub.domain.events import DossierEvent, EventKind, Source

SERVICES = {
    "DongBoHoSoMC": EventKind.SNAPSHOT,
    "CapNhatTienDoHoSoMC": EventKind.STEP,
    "GuiPhieuXinLoi": EventKind.APOLOGY,
}
WORKFLOW = {
    "receiving": 1,
    "new": 2,
    "denied": 3,
    "processing": 4,
    "waiting": 5,
    "paying": 6,
    "cancelled": 7,
    "unresolved": 8,
    "releasing": 9,
    "done": 10,
}
_STATUS_TEXT = {str(n): n for n in range(1, 11)} | WORKFLOW


def _unwrap(doc: Any) -> tuple[list[Any], EventKind | None, bool]:
    """The items, their kind (None: classify each) and whether this is a first sync."""
    if isinstance(doc, list):
        if not doc:
            raise Invalid(Reason.SCHEMA_ERROR, "an empty list carries no item")
        return doc, None, False
    if not isinstance(doc, dict):
        raise Invalid(Reason.SCHEMA_ERROR, "neither a wrapper object nor a list of items")
    try:
        service = code(doc, "service", "service")
    except WrongType as exc:
        raise Invalid(Reason.SCHEMA_ERROR, str(exc)) from None
    if service is None:
        raise Invalid(Reason.SCHEMA_ERROR, "the wrapper has no service")
    kind = SERVICES.get(service)
    if kind is None:
        raise Invalid(Reason.UNKNOWN_STATUS, f"unknown service {show(service)}")
    data = doc.get("data")
    if isinstance(data, dict):
        items: list[Any] = [data]
    elif isinstance(data, list) and data:
        items = data
    else:
        raise Invalid(Reason.SCHEMA_ERROR, "data is not a non-empty list or an object")
    flag = doc.get("isupdating")
    first_sync = flag is False or (isinstance(flag, str) and ascii_lower(flag) == "false")
    return items, kind, first_sync


def _classify(item: dict[str, Any]) -> EventKind:
    if "trangthaihoso" in item:
        return EventKind.SNAPSHOT
    if "thoidiemxuly" in item and "trangthai" in item:
        return EventKind.STEP
    if "ngayxinloi" in item:
        return EventKind.APOLOGY
    raise Invalid(Reason.SCHEMA_ERROR, "an item that is no snapshot, step or apology")


def _status(item: dict[str, Any], name: str, label: str) -> int:
    value = item.get(name)
    if value is None:
        raise Invalid(Reason.SCHEMA_ERROR, f"{label} is missing")
    if type(value) is int and 1 <= value <= 10:
        return value
    if isinstance(value, str) and value in _STATUS_TEXT:
        return _STATUS_TEXT[value]
    raise Invalid(
        Reason.UNKNOWN_STATUS, f"{label}={show(value)} is not a national status code 1-10"
    )


def _time(item: dict[str, Any], name: str, label: str, required: bool = False) -> datetime | None:
    value = get(item, name)
    if value is None:
        if required:
            raise Invalid(Reason.SCHEMA_ERROR, f"{label} is missing")
        return None
    try:
        return onestop_time(value, label)
    except BadTime as exc:
        raise Invalid(Reason.BAD_TIME, str(exc)) from None


def _info_time(item: dict[str, Any], name: str) -> datetime | None:
    """An informational time: kept when readable, never a reason to reject."""
    try:
        return onestop_time(get(item, name))
    except BadTime:
        return None


def _snapshot(item: dict[str, Any], first_sync: bool) -> dict[str, Any]:
    status = _status(item, "trangthaihoso", "TrangThaiHoSo")
    receipt = _time(item, "ngaytiepnhan", "NgayTiepNhan", required=status == 2)
    appointment = _time(item, "ngayhentra", "NgayHenTra")
    refused = _time(item, "ngaytuchoi", "NgayTuChoi")
    finished = _time(item, "ngayketthucxuly", "NgayKetThucXuLy")
    returned = _time(item, "ngaytra", "NgayTra")
    # only the transitions the snapshot records (sources.md §1)
    received_at = receipt if status != 1 else None
    refused_at = refused if status == 3 else None
    returned_at = returned if status == 10 else None
    finished_at = finished if status == 9 or (status == 10 and returned is not None) else None
    rule_times = [t for t in (received_at, refused_at, finished_at, returned_at) if t]
    return {
        "kind": EventKind.SNAPSHOT,
        "status": status,
        "first_sync": first_sync,
        "received_at": received_at,
        "appointment_at": appointment,
        "refused_at": refused_at,
        "finished_at": finished_at,
        "returned_at": returned_at,
        "event_time": max(rule_times) if rule_times else None,
        "procedure_code": text(item, "matthc"),
        "procedure_name": text(item, "tentthc"),
        "unit_name": text(item, "donvixuly"),
        "channel": text(item, "kenhthuchien"),
    }


def _step(item: dict[str, Any]) -> dict[str, Any]:
    status = _status(item, "trangthai", "TrangThai")
    at = _time(item, "thoidiemxuly", "ThoiDiemXuLy", required=True)
    return {
        "kind": EventKind.STEP,
        "status": status,
        "event_time": at,
        "step_deadline": _time(item, "ngayketthuctheoquydinh", "NgayKetThucTheoQuyDinh"),
        "holder_unit": text(item, "phongbanxuly"),
        "holder_officer": text(item, "nguoixuly"),
        "note": text(item, "noidungxuly"),
    }


def _apology(item: dict[str, Any]) -> dict[str, Any]:
    at = _time(item, "ngayxinloi", "NgayXinLoi", required=True)
    return {
        "kind": EventKind.APOLOGY,
        "event_time": at,
        "apology_at": at,
        "new_due_at": _info_time(item, "ngayhentramoi"),
        "note": text(item, "lydo"),
    }


def _item(raw_item: Any, kind: EventKind | None, first_sync: bool) -> dict[str, Any]:
    if not isinstance(raw_item, dict):
        raise Invalid(Reason.SCHEMA_ERROR, "an item that is not an object")
    item: dict[str, Any] = raw_item
    kind = kind or _classify(item)
    try:
        dossier = code(item, "mahoso", "MaHoSo")
    except WrongType as exc:
        raise Invalid(Reason.SCHEMA_ERROR, str(exc)) from None
    if dossier is None:
        raise Invalid(Reason.NO_DOSSIER_KEY, "MaHoSo is missing")
    if kind is EventKind.SNAPSHOT:
        fields = _snapshot(item, first_sync)
    elif kind is EventKind.STEP:
        fields = _step(item)
    else:
        fields = _apology(item)
    fields.update(source=Source.ONESTOP, dossier_code=dossier, onestop_code=dossier)
    return fields


@guarded("onestop")
def decode(raw: bytes, ctx: Context) -> Decoded:
    """Decode one one-stop message into one event per valid item and one rejection per bad one."""
    try:
        doc = parse(raw, fold=True)
    except BadJson as exc:
        raise Invalid(Reason.DECODE_ERROR, str(exc)) from None
    items, kind, first_sync = _unwrap(doc)
    # Each bad item costs a dead letter of the whole message: a list of many small items would
    # multiply the message (and stall the intake decoding them), so past the bound the message
    # is refused as a whole, before any item is decoded.
    if len(items) > ctx.max_items:
        raise Invalid(
            Reason.TOO_LARGE,
            f"{len(items)} items > {ctx.max_items} (MOTCUA_MAX_ITEMS_PER_MESSAGE)",
        )
    events: list[DossierEvent] = []
    rejections: list[Rejection] = []
    for index, raw_item in enumerate(items):
        try:
            # make_event too may refuse the item (an overlong id, a time out of the window)
            events.append(make_event(ctx, index, _item(raw_item, kind, first_sync)))
        except Invalid as bad:
            rejections.append(Rejection(bad.reason, bad.message, index))
    return Decoded(events=events, rejections=rejections)
