"""Civil-status connector (sources.md §4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import SOURCES, Reason
from connectors.civil import decode
from hub.domain.events import CivilStatus, EventKind, Source
from tests.unit.connectors.connector_ctx import make_ctx
from tests.unit.connectors.contract import CTX, check

VN = timezone(timedelta(hours=7))
FIELDS = {
    "MaSuKien": "HT-1",
    "SoHoSo": "HT.49.2026.000123",
    "MaHoSoMotCua": "000.23.12.H49-261103-0002",
    "LoaiViec": "KHAI_SINH",
    "MaTTHC": "1.001193",
    "TrangThai": "DA_CO_KET_QUA",
    "ThoiGian": "03/11/2026 10:15",
    "CanBo": "Võ Thị Hoa",
    "CoQuan": "UBND xã Bình Minh",
}


def doc(
    prolog: str = '<?xml version="1.0" encoding="UTF-8"?>',
    root: str = "SuKienHoTich",
    ns: str = "urn:hotich:sukien:1",
    **fields: str | None,
) -> bytes:
    merged = {**FIELDS, **fields}
    body = "".join(f"<{k}>{v}</{k}>" if v is not None else "" for k, v in merged.items())
    return f'{prolog}<{root} xmlns="{ns}">\n  {body}\n</{root}>'.encode()


def run(raw: bytes) -> tuple[list[object], list[tuple[Reason, int | None]]]:
    out = decode(raw, make_ctx())
    return list(out.events), [(r.reason, r.item) for r in out.rejections]


@pytest.mark.parametrize(
    ("status", "with_result"),
    [
        ("TIEP_NHAN", None),
        ("DANG_XU_LY", None),
        ("CHO_XAC_MINH", None),
        ("DA_CO_KET_QUA", True),
        ("TU_CHOI", False),
    ],
)
def test_statuses(status: str, with_result: bool | None) -> None:
    out = decode(doc(TrangThai=status), make_ctx())
    assert out.rejections == []
    (ev,) = out.events
    assert ev.source is Source.CIVIL and ev.kind is EventKind.CIVIL
    assert ev.civil_status is CivilStatus(status) and ev.with_result is with_result
    assert ev.event_id == "HT-1" and ev.dossier_code == "000.23.12.H49-261103-0002"
    assert ev.onestop_code == ev.dossier_code and ev.sector_id == "civil:HT.49.2026.000123"
    assert ev.event_time == datetime(2026, 11, 3, 10, 15, tzinfo=VN)
    assert (ev.holder_unit, ev.holder_officer) == ("UBND xã Bình Minh", "Võ Thị Hoa")
    assert ev.procedure_code == "1.001193"


def test_bypassed_and_whitespace_and_optional() -> None:
    raw = doc(
        MaHoSoMotCua="  \n ", CanBo=None, CoQuan=None, MaTTHC=None, ThoiGian="\n  03/11/2026 23:59 "
    )
    (ev,), rejections = run(raw)
    assert rejections == []
    assert ev.dossier_code == "civil:HT.49.2026.000123" and ev.onestop_code is None  # type: ignore[attr-defined]
    assert ev.holder_unit is None and ev.procedure_code is None  # type: ignore[attr-defined]
    (ev,), _ = run(
        doc(MaHoSoMotCua=None, SoHoSo=None).replace(
            b"<LoaiViec>", b"<MaHoSoMotCua>C</MaHoSoMotCua><LoaiViec>"
        )
    )
    assert ev.dossier_code == "C" and ev.sector_id is None  # type: ignore[attr-defined]


def test_plain_doctype_bom_and_prefixed_namespace() -> None:
    assert run(doc(prolog='<!DOCTYPE SuKienHoTich SYSTEM "http://127.0.0.1:9/x.dtd">'))[1] == []
    assert run(b"\xef\xbb\xbf" + doc())[1] == []
    raw = (
        b'<h:SuKienHoTich xmlns:h="urn:hotich:sukien:1"><h:MaSuKien>A</h:MaSuKien>'
        b"<h:SoHoSo>S</h:SoHoSo><h:TrangThai>TU_CHOI</h:TrangThai>"
        b"<h:ThoiGian>03/11/2026 10:15</h:ThoiGian></h:SuKienHoTich>"
    )
    (ev,), rejections = run(raw)
    assert rejections == [] and ev.event_id == "A"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff" + doc(), Reason.DECODE_ERROR),
        (doc().replace(b"KHAI_SINH", b"KHAI\xc3(SINH"), Reason.DECODE_ERROR),
        (doc().replace(b"KHAI_SINH", b"\xed\xa0\x80"), Reason.DECODE_ERROR),
        (doc(prolog='<!DOCTYPE a [<!ENTITY x "y">]>'), Reason.DECODE_ERROR),
        (doc(prolog="<!-- <!ENTITY -->"), Reason.DECODE_ERROR),
        (b"<!ENTITY" + b"\xff", Reason.DECODE_ERROR),
        (doc(LoaiViec="&x;"), Reason.DECODE_ERROR),
        (doc()[:-3], Reason.DECODE_ERROR),
        (b"", Reason.DECODE_ERROR),
        (b"{}", Reason.DECODE_ERROR),
        (doc(root="Other"), Reason.SCHEMA_ERROR),
        (doc(ns="urn:other"), Reason.SCHEMA_ERROR),
        (doc(ns=""), Reason.SCHEMA_ERROR),
        (doc(MaHoSoMotCua=None, SoHoSo=" "), Reason.NO_DOSSIER_KEY),
        (doc(MaHoSoMotCua=None, SoHoSo=None, TrangThai="X"), Reason.NO_DOSSIER_KEY),
        (doc(TrangThai=None), Reason.SCHEMA_ERROR),
        (doc(TrangThai="DONE", MaSuKien=None), Reason.UNKNOWN_STATUS),
        (doc(TrangThai="tu_choi"), Reason.UNKNOWN_STATUS),
        (doc(MaSuKien="", ThoiGian="x"), Reason.SCHEMA_ERROR),
        (doc(ThoiGian=None), Reason.SCHEMA_ERROR),
        (doc(ThoiGian="2026-11-03 10:15"), Reason.BAD_TIME),
        (doc(ThoiGian="3/11/2026 10:15"), Reason.BAD_TIME),
        (doc(ThoiGian="30/02/2026 10:15"), Reason.BAD_TIME),
    ],
)
def test_rejections(raw: bytes, reason: Reason) -> None:
    events, rejections = run(raw)
    assert events == [] and rejections == [(reason, None)]


def test_too_large_before_decoding() -> None:
    out = decode(b"\xff" * 11, make_ctx(max_message_bytes=10))
    assert [r.reason for r in out.rejections] == [Reason.TOO_LARGE]


def test_entity_bomb_is_refused_quickly() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(8))
        + b']><SuKienHoTich xmlns="urn:hotich:sukien:1">&i;</SuKienHoTich>'
    )
    assert run(bomb)[1] == [(Reason.DECODE_ERROR, None)]


# the properties every connector has are in test_contract.py; this one is about XML element text
MINIMAL = (
    '<SuKienHoTich xmlns="urn:hotich:sukien:1"><MaSuKien>M</MaSuKien><SoHoSo>S</SoHoSo>'
    "<TrangThai>TU_CHOI</TrangThai><ThoiGian>03/11/2026 10:15</ThoiGian></SuKienHoTich>"
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=30),
    field=st.sampled_from(["MaSuKien", "SoHoSo", "TrangThai", "ThoiGian"]),
)
def test_any_text_in_a_field(text: str, field: str) -> None:
    start, end = MINIMAL.index(f"<{field}>") + len(field) + 2, MINIMAL.index(f"</{field}>")
    raw = (MINIMAL[:start] + text + MINIMAL[end:]).encode("utf-8", "surrogatepass")
    check(decode(raw, CTX), SOURCES[Source.CIVIL])
