"""Tax system connector (sources.md §3): one event per message, identified by `eventId`.

Field names are matched exactly (the case-insensitive matching of sources.md is for the one-stop
and land formats only).
"""

from __future__ import annotations

from typing import Any

from connectors._base import Context, Decoded, Reason
from connectors._identity import Invalid, guarded, make_event
from connectors._json import BadJson, WrongType, code, get, parse, show
from connectors._times import BadTime, epoch_ms
from hub.domain.events import EventKind, Source

EVENT_TYPES = {
    "OBLIGATION_RECEIVED": EventKind.TAX_OBLIGATION_RECEIVED,
    "NOTICE_ISSUED": EventKind.TAX_NOTICE_ISSUED,
    "PAID": EventKind.TAX_PAID,
    "NOTICE_CANCELLED": EventKind.TAX_NOTICE_CANCELLED,
}


def _code(doc: dict[str, Any], name: str) -> str | None:
    try:
        return code(doc, name, name)
    except WrongType as exc:
        raise Invalid(Reason.SCHEMA_ERROR, str(exc)) from None


@guarded("tax")
def decode(raw: bytes, ctx: Context) -> Decoded:
    """Decode one tax event into one event or one rejection."""
    try:
        doc = parse(raw, fold=False)
    except BadJson as exc:
        raise Invalid(Reason.DECODE_ERROR, str(exc)) from None
    if not isinstance(doc, dict):
        raise Invalid(Reason.SCHEMA_ERROR, "the message is not a JSON object")
    dossier = _code(doc, "dossierRef")
    if dossier is None:
        raise Invalid(Reason.NO_DOSSIER_KEY, "dossierRef is missing")
    event_type = _code(doc, "eventType")
    if event_type is None:
        raise Invalid(Reason.SCHEMA_ERROR, "eventType is missing")
    kind = EVENT_TYPES.get(event_type)
    if kind is None:
        raise Invalid(Reason.UNKNOWN_STATUS, f"unknown eventType {show(event_type)}")
    event_id = _code(doc, "eventId")
    if event_id is None:
        raise Invalid(Reason.SCHEMA_ERROR, "eventId is missing")
    occurred = get(doc, "occurredAt")
    if occurred is None:
        raise Invalid(Reason.SCHEMA_ERROR, "occurredAt is missing")
    try:
        at = epoch_ms(occurred)
    except BadTime as bad:
        raise Invalid(Reason.BAD_TIME, str(bad)) from None
    notice = _code(doc, "noticeNo")
    if notice is None and kind is not EventKind.TAX_OBLIGATION_RECEIVED:
        raise Invalid(Reason.SCHEMA_ERROR, f"noticeNo is missing on {event_type}")
    fields = {
        "event_id": event_id,
        "source": Source.TAX,
        "kind": kind,
        "dossier_code": dossier,
        "onestop_code": dossier,
        "event_time": at,
        "notice_no": notice,
    }
    return Decoded(events=[make_event(ctx, None, fields)])
