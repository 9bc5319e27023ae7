"""Land connector (sources.md §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors import Context, Reason
from connectors.land import decode
from hub.domain.events import EventKind, Source
from tests.unit.connectors.connector_ctx import SECURITY_CODE, make_ctx

VN = timezone(timedelta(hours=7))
CODE = "000.00.12.H49-261103-0001"


def msg(callback: str, **fields: Any) -> dict[str, Any]:
    return {
        "callback": callback,
        "SoBienNhan": CODE,
        "MaHoSoVBDLIS": "VBD-1",
        "SecurityCode": SECURITY_CODE,
        **fields,
    }


def run(doc: Any, ctx: Context | None = None) -> Any:
    return decode(json.dumps(doc, ensure_ascii=False).encode(), ctx or make_ctx())


def one(doc: Any, ctx: Context | None = None) -> Any:
    out = run(doc, ctx)
    assert out.rejections == [] and len(out.events) == 1 and out.informational == 0
    return out.events[0]


def rejected(doc: Any, ctx: Context | None = None) -> Reason:
    out = run(doc, ctx)
    assert out.events == [] and len(out.rejections) == 1 and out.informational == 0
    assert out.rejections[0].item is None
    return out.rejections[0].reason


@pytest.mark.parametrize("name", ["DongBoTrangThaiLuanChuyenHoSo", "ChuyenHoSo"])
def test_handover(name: str) -> None:
    ev = one(
        msg(
            name,
            MaCanBoNhan="cb.dung",
            PhongBanNhan="Tổ thẩm định",
            NgayChuyen="2026-11-05T08:15:00+07:00",
            HanXuLy="2026-11-09T17:00:00+07:00",
        )
    )
    assert ev.source is Source.LAND and ev.kind is EventKind.LAND_HANDOVER
    assert ev.dossier_code == CODE == ev.onestop_code and ev.sector_id == "land:VBD-1"
    assert ev.event_time == datetime(2026, 11, 5, 8, 15, tzinfo=VN)
    assert ev.step_deadline == datetime(2026, 11, 9, 17, tzinfo=VN)
    assert (ev.holder_unit, ev.holder_officer) == ("Tổ thẩm định", "cb.dung")
    assert ev.item_index is None and ev.source_offset == 42


def test_handover_utc_without_offset_and_numeric_deadline() -> None:
    # 2026-11-05 (Thursday) 23:30 UTC is Friday 06:30 local; 2.5 -> 3 working days: Wed 11th
    ev = one(msg("ChuyenHoSo", NgayChuyen="2026-11-05T23:30:00.0000000", HanXuLy=2.5))
    assert ev.event_time == datetime(2026, 11, 5, 23, 30, tzinfo=UTC)
    assert ev.step_deadline == datetime(2026, 11, 11, 6, 30, tzinfo=VN)
    ev = one(msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00", HanXuLy=1))
    assert ev.step_deadline == datetime(2026, 11, 6, 15, 0, tzinfo=VN)
    assert one(msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00")).step_deadline is None
    ev = one(msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00", HanXuLy=1000))
    assert ev.step_deadline is not None


@pytest.mark.parametrize("bad", [0, -1, 1000.5, 1001, 0.0, "3", "2026-11-09", True, [1], {"a": 1}])
def test_bad_deadline(bad: Any) -> None:
    assert (
        rejected(msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00", HanXuLy=bad)) is Reason.BAD_TIME
    )


def test_camel_case_and_last_spelling() -> None:
    doc = {
        "callback": "ChuyenHoSo",
        "soBienNhan": "",
        "maHoSoVBDLIS": "VBD-9",
        "SecurityCode": SECURITY_CODE,
        "ngayChuyen": "2026-11-05T06:39:00",
        "hanXuLy": 2,
        "maCanBoNhan": "a",
        "MACANBONHAN": "b",
    }
    ev = one(doc)
    assert ev.dossier_code == "land:VBD-9" == ev.sector_id and ev.onestop_code is None
    assert ev.holder_officer == "b"


@pytest.mark.parametrize("name", ["DongBoTrangThaiChoBoSung", "YeuCauBoSungHoSo"])
def test_supplement_requested(name: str) -> None:
    ev = one(msg(name, NgayChoBoSung="2026-11-06T03:00:00", LaTamDung=True))
    assert ev.kind is EventKind.LAND_SUPPLEMENT_REQUESTED and ev.pause is True
    assert ev.event_time == datetime(2026, 11, 6, 10, tzinfo=VN)
    assert one(msg(name, NgayChoBoSung="2026-11-06T03:00:00", LaTamDung=False)).pause is False
    assert one(msg(name, NgayChoBoSung="2026-11-06T03:00:00")).pause is False
    assert one(msg(name, NgayChoBoSung="2026-11-06T03:00:00", LaTamDung=None)).pause is False
    for bad in ["true", 1, 0]:
        doc = msg(name, NgayChoBoSung="2026-11-06T03:00:00", LaTamDung=bad)
        assert rejected(doc) is Reason.SCHEMA_ERROR


@pytest.mark.parametrize("name", ["DongBoTrangThaiDaBoSung", "NhanBoSungHoSo"])
def test_supplement_received(name: str) -> None:
    ev = one(msg(name, NgayDaBoSung="2026-11-10T07:30:00", NgayHenTraMoi="2026-11-19T10:00:00"))
    assert ev.kind is EventKind.LAND_SUPPLEMENT_RECEIVED
    assert ev.event_time == datetime(2026, 11, 10, 7, 30, tzinfo=UTC)
    assert ev.new_due_at == datetime(2026, 11, 19, 10, tzinfo=UTC)
    ev = one(msg(name, NgayNhanBoSung="2026-11-10T07:30:00Z", NgayHenTraMoi="junk"))
    assert ev.event_time == datetime(2026, 11, 10, 7, 30, tzinfo=UTC) and ev.new_due_at is None
    ev = one(msg(name, NgayDaBoSung="", NgayNhanBoSung="2026-11-10T07:30:00Z"))
    assert ev.event_time == datetime(2026, 11, 10, 7, 30, tzinfo=UTC)
    # NgayNhanBoSung is not read when NgayDaBoSung is there
    bad = msg(name, NgayDaBoSung="x", NgayNhanBoSung="2026-11-10T07:30:00Z")
    assert rejected(bad) is Reason.BAD_TIME
    assert rejected(msg(name)) is Reason.SCHEMA_ERROR


@pytest.mark.parametrize("name", ["DongBoKetQuaThue", "GuiKetQuaThue"])
def test_tax_result_has_no_event_time(name: str) -> None:
    ev = one(msg(name, NgayCoKetQuaThue="not a time", DanhSachThongBaoThue=[{"x": 1}]))
    assert ev.kind is EventKind.LAND_TAX_RESULT and ev.event_time is None


@pytest.mark.parametrize("name", ["DongBoTrangThaiKetThuc", "KetThucHoSo"])
@pytest.mark.parametrize(
    ("value", "with_result"),
    [(0, True), ("0", True), ("000", True), (1, False), ("2", False), (-1, False)],
)
def test_closed(name: str, value: Any, with_result: bool) -> None:
    ev = one(msg(name, NgayKetThuc="2026-11-20T16:00:00+07:00", TrangThaiKetThuc=value))
    assert ev.kind is EventKind.LAND_CLOSED and ev.with_result is with_result
    assert ev.event_time == datetime(2026, 11, 20, 16, tzinfo=VN)


@pytest.mark.parametrize("value", [None, "", "x", "-1", "٠", 0.0, True, [0]])
def test_closed_bad_status(value: Any) -> None:
    doc = msg("KetThucHoSo", NgayKetThuc="2026-11-20T16:00:00+07:00", TrangThaiKetThuc=value)
    assert rejected(doc) is Reason.SCHEMA_ERROR


@pytest.mark.parametrize(
    "name",
    ["ThongBaoNhapSaiThuTuc", "ThueChuyenTraHoSoDoSai", "YeuCauCapNhatHoSo", "CungCapSoBienNhan"],
)
def test_informational(name: str) -> None:
    out = run(msg(name, GhiChu="x"))
    assert out.events == [] and out.rejections == [] and out.informational == 1
    assert rejected(msg(name, SoBienNhan=None, MaHoSoVBDLIS=None)) is Reason.NO_DOSSIER_KEY
    assert rejected(msg(name, SecurityCode="no")) is Reason.AUTH_FAILED


def test_security_code() -> None:
    doc = msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00")
    for bad in [None, "", "QNAM-VBDLIS-000000", 7, SECURITY_CODE.lower()]:
        assert rejected({**doc, "SecurityCode": bad}) is Reason.AUTH_FAILED
    no_code = {k: v for k, v in doc.items() if k != "SecurityCode"}
    assert rejected(no_code) is Reason.AUTH_FAILED
    assert one({**doc, "securitycode": SECURITY_CODE}).kind is EventKind.LAND_HANDOVER
    assert one(no_code, make_ctx(land_security_code=None)).kind is EventKind.LAND_HANDOVER


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], Reason.SCHEMA_ERROR),
        ("x", Reason.SCHEMA_ERROR),
        ({"SecurityCode": "bad"}, Reason.AUTH_FAILED),  # auth before callback
        (msg("Nope", SecurityCode="bad"), Reason.AUTH_FAILED),
        ({"SecurityCode": SECURITY_CODE, "SoBienNhan": CODE}, Reason.SCHEMA_ERROR),
        (msg(""), Reason.SCHEMA_ERROR),
        (msg(5), Reason.SCHEMA_ERROR),  # type: ignore[arg-type]
        (msg("Nope"), Reason.UNKNOWN_STATUS),
        (msg("Nope", SoBienNhan=None, MaHoSoVBDLIS=None), Reason.UNKNOWN_STATUS),
        (msg("ChuyenHoSo", SoBienNhan=None, MaHoSoVBDLIS=""), Reason.NO_DOSSIER_KEY),
        (msg("ChuyenHoSo", SoBienNhan=12, NgayChuyen="2026-11-05T08:00"), Reason.SCHEMA_ERROR),
        (
            msg("ChuyenHoSo", SoBienNhan=None, MaHoSoVBDLIS=None, NgayChuyen="x"),
            Reason.NO_DOSSIER_KEY,
        ),
        (msg("ChuyenHoSo"), Reason.SCHEMA_ERROR),
        (msg("ChuyenHoSo", NgayChuyen="2026-11-05 08:00:00", HanXuLy=0), Reason.BAD_TIME),
        (msg("ChuyenHoSo", NgayChuyen="2026-11-05", HanXuLy=0), Reason.BAD_TIME),
        (msg("ChuyenHoSo", NgayChuyen=1762330000), Reason.BAD_TIME),
        (msg("KetThucHoSo", TrangThaiKetThuc="x"), Reason.SCHEMA_ERROR),
        (msg("KetThucHoSo", NgayKetThuc="x", TrangThaiKetThuc="x"), Reason.BAD_TIME),
    ],
)
def test_rejections(doc: Any, reason: Reason) -> None:
    assert rejected(doc) is reason


def test_decode_error_and_too_large() -> None:
    assert decode(b"{NaN}", make_ctx()).rejections[0].reason is Reason.DECODE_ERROR
    assert decode(b'{"a": NaN}', make_ctx()).rejections[0].reason is Reason.DECODE_ERROR
    big = json.dumps(msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00", Pad="x" * 600)).encode()
    assert decode(big, make_ctx(max_message_bytes=500)).rejections[0].reason is Reason.TOO_LARGE


def test_identity() -> None:
    base = msg("ChuyenHoSo", NgayChuyen="2026-11-05T01:00:00Z", HanXuLy=2, MaCanBoNhan="a")
    a = one(base, make_ctx(offset=1))
    b = one(
        {**base, "callback": "DongBoTrangThaiLuanChuyenHoSo", "NoiDungXuLy": "x"},
        make_ctx(offset=2, partition=1),
    )
    c = one({**base, "NgayChuyen": "2026-11-05T08:00:00+07:00"})
    d = one({**base, "MaCanBoNhan": "b"})
    assert a.event_id == b.event_id == c.event_id != d.event_id


class _BrokenCalendar:
    def add_working_days(self, t: datetime, n: int) -> datetime:
        raise RuntimeError("boom")


def test_unexpected_failure_is_internal_not_raised() -> None:
    doc = msg("ChuyenHoSo", NgayChuyen="2026-11-05T08:00", HanXuLy=2)
    out = run(doc, make_ctx(calendar=_BrokenCalendar()))
    assert out.events == [] and [r.reason for r in out.rejections] == [Reason.INTERNAL]
