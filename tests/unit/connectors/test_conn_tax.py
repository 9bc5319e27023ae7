"""Tax connector (sources.md §3)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connectors import Reason
from connectors.tax import decode
from hub.domain.events import EventKind, Source
from tests.unit.connectors.connector_ctx import make_ctx

VN = timezone(timedelta(hours=7))
CODE = "000.00.12.H49-261103-0001"


def msg(event_type: str = "NOTICE_ISSUED", **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventId": "f1c2",
        "eventType": event_type,
        "dossierRef": CODE,
        "noticeNo": "TB-1",
        "occurredAt": 1794448800000,
        "amountVnd": 1,
    }
    doc.update(fields)
    return doc


def run(doc: Any) -> Any:
    return decode(json.dumps(doc).encode(), make_ctx())


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("OBLIGATION_RECEIVED", EventKind.TAX_OBLIGATION_RECEIVED),
        ("NOTICE_ISSUED", EventKind.TAX_NOTICE_ISSUED),
        ("PAID", EventKind.TAX_PAID),
        ("NOTICE_CANCELLED", EventKind.TAX_NOTICE_CANCELLED),
    ],
)
def test_event_types(event_type: str, kind: EventKind) -> None:
    out = run(msg(event_type))
    assert out.rejections == [] and len(out.events) == 1
    ev = out.events[0]
    assert ev.source is Source.TAX and ev.kind is kind and ev.event_id == "f1c2"
    assert ev.dossier_code == CODE == ev.onestop_code and ev.notice_no == "TB-1"
    assert ev.event_time == datetime(2026, 11, 12, 9, tzinfo=VN)


def test_obligation_without_notice() -> None:
    for notice in (None, ""):
        ev = run(msg("OBLIGATION_RECEIVED", noticeNo=notice)).events[0]
        assert ev.notice_no is None
    doc = msg("OBLIGATION_RECEIVED")
    del doc["noticeNo"]
    assert run(doc).events[0].kind is EventKind.TAX_OBLIGATION_RECEIVED


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], Reason.SCHEMA_ERROR),
        (msg(dossierRef=None), Reason.NO_DOSSIER_KEY),
        (msg(dossierRef=""), Reason.NO_DOSSIER_KEY),
        (msg(dossierRef=None, eventType="X", eventId=None), Reason.NO_DOSSIER_KEY),
        (msg(dossierRef=5), Reason.SCHEMA_ERROR),
        (msg(eventType=None), Reason.SCHEMA_ERROR),
        (msg(eventType=1), Reason.SCHEMA_ERROR),
        (msg(eventType="REFUNDED", eventId=None), Reason.UNKNOWN_STATUS),
        (msg(eventType="paid"), Reason.UNKNOWN_STATUS),
        (msg(eventId=None, occurredAt="x"), Reason.SCHEMA_ERROR),
        (msg(eventId=7), Reason.SCHEMA_ERROR),
        (msg(occurredAt=None), Reason.SCHEMA_ERROR),
        (msg(occurredAt="1794448800000", noticeNo=None), Reason.BAD_TIME),
        (msg(occurredAt=1794448800000.0), Reason.BAD_TIME),
        (msg(occurredAt=True), Reason.BAD_TIME),
        (msg(occurredAt=10**20), Reason.BAD_TIME),
        (msg(noticeNo=None), Reason.SCHEMA_ERROR),
        (msg("PAID", noticeNo=""), Reason.SCHEMA_ERROR),
        (msg("OBLIGATION_RECEIVED", noticeNo=5), Reason.SCHEMA_ERROR),
        ({"EventId": "a", "EventType": "PAID", "DossierRef": CODE}, Reason.NO_DOSSIER_KEY),
    ],
)
def test_rejections(doc: Any, reason: Reason) -> None:
    out = run(doc)
    assert out.events == [] and [(r.reason, r.item) for r in out.rejections] == [(reason, None)]


def test_decode_errors() -> None:
    for raw in (b'{"occurredAt": Infinity}', b"\xc0", b"", b'{"a":1} x'):
        assert decode(raw, make_ctx()).rejections[0].reason is Reason.DECODE_ERROR
    assert decode(b"{}", make_ctx(max_message_bytes=1)).rejections[0].reason is Reason.TOO_LARGE
