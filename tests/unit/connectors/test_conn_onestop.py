"""One-stop connector (sources.md §1)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from connectors import Context, Reason
from connectors.onestop import decode
from hub.domain.events import EventKind, Source
from tests.unit.connectors.connector_ctx import make_ctx

VN = timezone(timedelta(hours=7))
CODE = "000.00.12.H49-261103-0001"


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def snapshot(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "MaHoSo": CODE,
        "MaTTHC": "1.013831",
        "TenTTHC": "Đăng ký biến động đất đai",
        "KenhThucHien": "2",
        "NgayTiepNhan": "20261103083000",
        "NgayHenTra": "20261117170000",
        "TrangThaiHoSo": "2",
        "NgayKetThucXuLy": "",
        "NgayTra": "",
        "NgayTuChoi": "",
        "DonViXuLy": "Chi nhánh Thăng Bình",
    }
    item.update(fields)
    return item


def step(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "MaHoSo": CODE,
        "NguoiXuLy": "Trần Thị Bình",
        "PhongBanXuLy": "Chi nhánh Thăng Bình",
        "ThoiDiemXuLy": "20261104090000",
        "NoiDungXuLy": "Chuyển hồ sơ để thẩm định",
        "TrangThai": "4",
        "NgayBatDau": "20261104090000",
        "NgayKetThucTheoQuyDinh": "20261110170000",
    }
    item.update(fields)
    return item


def apology(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "MaHoSo": CODE,
        "NgayXinLoi": "20261116100000",
        "LyDo": "Chờ kết quả xác minh",
        "NgayHenTraMoi": "20261125170000",
    }
    item.update(fields)
    return item


def run(doc: Any, ctx: Context | None = None) -> Any:
    return decode(json.dumps(doc, ensure_ascii=False).encode(), ctx or make_ctx())


def wrap(service: str, *items: Any, **extra: Any) -> dict[str, Any]:
    return {"service": service, **extra, "data": list(items)}


def one(doc: Any) -> Any:
    out = run(doc)
    assert out.rejections == [], out.rejections
    assert len(out.events) == 1
    return out.events[0]


def only_rejection(doc: Any) -> tuple[Reason, int | None]:
    out = run(doc)
    assert out.events == []
    assert len(out.rejections) == 1
    return out.rejections[0].reason, out.rejections[0].item


def test_snapshot_canonical() -> None:
    ev = one(wrap("DongBoHoSoMC", snapshot(), isUpdating=False))
    assert ev.source is Source.ONESTOP and ev.kind is EventKind.SNAPSHOT
    assert ev.dossier_code == CODE == ev.onestop_code and ev.sector_id is None
    assert ev.status == 2 and ev.first_sync is True
    assert ev.received_at == t(3, 8, 30) == ev.event_time
    assert ev.appointment_at == t(17, 17)
    assert ev.procedure_code == "1.013831" and ev.channel == "2"
    assert ev.unit_name == "Chi nhánh Thăng Bình"
    assert (ev.source_topic, ev.source_partition, ev.source_offset, ev.item_index) == (
        "t",
        3,
        42,
        0,
    )


@pytest.mark.parametrize(
    ("flag", "first"),
    [
        (False, True),
        ("False", True),
        ("fAlSe", True),
        (True, False),
        ("True", False),
        ("no", False),
        (0, False),
        (None, False),
    ],
)
def test_is_updating(flag: Any, first: bool) -> None:
    assert one(wrap("DongBoHoSoMC", snapshot(), isUpdating=flag)).first_sync is first
    assert one(wrap("DongBoHoSoMC", snapshot())).first_sync is False


def test_status_1_receipt_is_not_a_receipt() -> None:
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo=1)))
    assert ev.status == 1 and ev.received_at is None and ev.event_time is None


@pytest.mark.parametrize("status", [4, 5, 6, 7, 8])
def test_snapshot_without_transition(status: int) -> None:
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo=status, NgayTuChoi="20261120100000")))
    assert ev.status == status and ev.received_at == t(3, 8, 30) == ev.event_time
    assert ev.refused_at is ev.finished_at is ev.returned_at is None


def test_snapshot_status_times() -> None:
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo=3, NgayTuChoi="20261103100000")))
    assert ev.refused_at == t(3, 10) == ev.event_time
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo="9", NgayKetThucXuLy="20261114090000")))
    assert ev.finished_at == t(14, 9) == ev.event_time and ev.returned_at is None
    ev = one(
        wrap(
            "DongBoHoSoMC",
            snapshot(
                TrangThaiHoSo="10", NgayKetThucXuLy="20261114090000", NgayTra="20261115080000"
            ),
        )
    )
    assert ev.finished_at == t(14, 9) and ev.returned_at == t(15, 8) == ev.event_time
    # a 10 without NgayTra records nothing, not even the 9
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo="done", NgayKetThucXuLy="20261114090000")))
    assert ev.status == 10 and ev.finished_at is None and ev.returned_at is None
    assert ev.event_time == t(3, 8, 30)
    # a 3 without NgayTuChoi
    ev = one(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo="denied")))
    assert ev.status == 3 and ev.refused_at is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("receiving", 1),
        ("new", 2),
        ("denied", 3),
        ("processing", 4),
        ("waiting", 5),
        ("paying", 6),
        ("cancelled", 7),
        ("unresolved", 8),
        ("releasing", 9),
        ("done", 10),
    ],
)
def test_workflow_names(name: str, code: int) -> None:
    assert one(wrap("CapNhatTienDoHoSoMC", step(TrangThai=name))).status == code
    assert one(wrap("CapNhatTienDoHoSoMC", step(TrangThai=str(code)))).status == code
    assert one(wrap("CapNhatTienDoHoSoMC", step(TrangThai=code))).status == code


@pytest.mark.parametrize("status", ["", "11", "0", 0, 11, "Done", " 4", "04", 4.0, True, [4], {}])
def test_unknown_status(status: Any) -> None:
    assert only_rejection(wrap("CapNhatTienDoHoSoMC", step(TrangThai=status))) == (
        Reason.UNKNOWN_STATUS,
        0,
    )
    assert only_rejection(wrap("DongBoHoSoMC", snapshot(TrangThaiHoSo=status))) == (
        Reason.UNKNOWN_STATUS,
        0,
    )


def test_step() -> None:
    ev = one(wrap("CapNhatTienDoHoSoMC", step()))
    assert ev.kind is EventKind.STEP and ev.status == 4
    assert ev.event_time == t(4, 9) and ev.step_deadline == t(10, 17)
    assert ev.holder_unit == "Chi nhánh Thăng Bình" and ev.holder_officer == "Trần Thị Bình"
    ev = one(wrap("CapNhatTienDoHoSoMC", step(NgayKetThucTheoQuyDinh=None, NguoiXuLy=None)))
    assert ev.step_deadline is None and ev.holder_officer is None


def test_apology() -> None:
    ev = one(wrap("GuiPhieuXinLoi", apology()))
    assert ev.kind is EventKind.APOLOGY
    assert ev.apology_at == t(16, 10) == ev.event_time and ev.new_due_at == t(25, 17)
    # the new appointment is informational: never rejected
    assert one(wrap("GuiPhieuXinLoi", apology(NgayHenTraMoi="soon"))).new_due_at is None


def test_bare_list_classification_and_iso_times() -> None:
    items = [
        snapshot(TrangThaiHoSo=2, NgayTiepNhan="2026-11-03 08:30:00", NgayHenTra=None),
        step(ThoiDiemXuLy="2026-11-04T09:00:00.000", TrangThai=4),
        apology(NgayXinLoi="2026-11-16T03:00:00Z"),
        {"MaHoSo": CODE, "TrangThaiHoSo": None},  # present counts for classification
    ]
    out = run(items)
    kinds = [e.kind for e in out.events]
    assert kinds == [EventKind.SNAPSHOT, EventKind.STEP, EventKind.APOLOGY]
    assert [e.item_index for e in out.events] == [0, 1, 2]
    assert out.events[0].first_sync is False  # a bare list is updates
    assert out.events[2].event_time == t(16, 10)
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.SCHEMA_ERROR, 3)]


def test_camel_case_single_object() -> None:
    doc = {
        "service": "CapNhatTienDoHoSoMC",
        "data": {
            "maHoSo": CODE,
            "thoiDiemXuLy": "2026-11-04T09:00:00+07:00",
            "trangThai": "5",
            "phongBanXuLy": "P",
        },
    }
    ev = one(doc)
    assert ev.status == 5 and ev.event_time == t(4, 9) and ev.item_index == 0
    assert ev.holder_unit == "P"


def test_multi_item_partial_rejection() -> None:
    out = run(wrap("CapNhatTienDoHoSoMC", step(), step(TrangThai="x"), "junk", step(MaHoSo="")))
    assert [e.item_index for e in out.events] == [0]
    assert [(r.reason, r.item) for r in out.rejections] == [
        (Reason.UNKNOWN_STATUS, 1),
        (Reason.SCHEMA_ERROR, 2),
        (Reason.NO_DOSSIER_KEY, 3),
    ]


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ([], Reason.SCHEMA_ERROR),
        ({}, Reason.SCHEMA_ERROR),
        ("text", Reason.SCHEMA_ERROR),
        (5, Reason.SCHEMA_ERROR),
        ({"data": [step()]}, Reason.SCHEMA_ERROR),
        ({"service": 3, "data": [step()]}, Reason.SCHEMA_ERROR),
        ({"service": "", "data": [step()]}, Reason.SCHEMA_ERROR),
        ({"service": "Other", "data": [step()]}, Reason.UNKNOWN_STATUS),
        ({"service": "Other"}, Reason.UNKNOWN_STATUS),
        ({"service": "CapNhatTienDoHoSoMC"}, Reason.SCHEMA_ERROR),
        ({"service": "CapNhatTienDoHoSoMC", "data": []}, Reason.SCHEMA_ERROR),
        ({"service": "CapNhatTienDoHoSoMC", "data": "x"}, Reason.SCHEMA_ERROR),
        (step(), Reason.SCHEMA_ERROR),  # an item without its wrapper
    ],
)
def test_whole_message_rejections(doc: Any, reason: Reason) -> None:
    assert only_rejection(doc) == (reason, None)


def test_decode_error_and_too_large() -> None:
    ctx = make_ctx(max_message_bytes=100)
    out = decode(b'{"service": "DongBoHoSoMC", "data": [', ctx)
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.DECODE_ERROR, None)]
    out = decode(b"x" * 101, ctx)  # size is checked before decoding
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.TOO_LARGE, None)]
    assert decode(b"x" * 100, ctx).rejections[0].reason is Reason.DECODE_ERROR


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (snapshot(MaHoSo=None), Reason.NO_DOSSIER_KEY),
        (snapshot(MaHoSo=12), Reason.SCHEMA_ERROR),
        (snapshot(MaHoSo=None, TrangThaiHoSo="x"), Reason.NO_DOSSIER_KEY),  # key before status
        (snapshot(TrangThaiHoSo=None), Reason.SCHEMA_ERROR),
        (snapshot(NgayTiepNhan=""), Reason.SCHEMA_ERROR),  # required with status 2
        (snapshot(NgayTiepNhan="bad", TrangThaiHoSo="x"), Reason.UNKNOWN_STATUS),
        (snapshot(NgayTiepNhan="", NgayHenTra="bad"), Reason.SCHEMA_ERROR),  # order of times
        (snapshot(NgayHenTra="2026-11-17"), Reason.BAD_TIME),
        (snapshot(TrangThaiHoSo=4, NgayTra="17/11/2026"), Reason.BAD_TIME),  # whatever status
        (snapshot(TrangThaiHoSo=1, NgayTiepNhan=20261103083000), Reason.BAD_TIME),
        (snapshot(NgayTuChoi="x"), Reason.BAD_TIME),
        (snapshot(NgayKetThucXuLy="x"), Reason.BAD_TIME),
    ],
)
def test_snapshot_item_rejections(item: dict[str, Any], reason: Reason) -> None:
    assert only_rejection(wrap("DongBoHoSoMC", item)) == (reason, 0)


def test_snapshot_optional_times_absent() -> None:
    ev = one(wrap("DongBoHoSoMC", {"MaHoSo": CODE, "TrangThaiHoSo": 4}))
    assert ev.received_at is None and ev.appointment_at is None and ev.event_time is None
    assert ev.procedure_code is None and ev.unit_name is None


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (step(ThoiDiemXuLy=""), Reason.SCHEMA_ERROR),
        (step(ThoiDiemXuLy="2026-11-04T09:00"), Reason.BAD_TIME),
        (step(NgayKetThucTheoQuyDinh="tomorrow"), Reason.BAD_TIME),
        (step(TrangThai=None), Reason.SCHEMA_ERROR),
        (apology(NgayXinLoi=None), Reason.SCHEMA_ERROR),
        (apology(NgayXinLoi="x"), Reason.BAD_TIME),
    ],
)
def test_step_and_apology_rejections(item: dict[str, Any], reason: Reason) -> None:
    service = "GuiPhieuXinLoi" if "NgayXinLoi" in item else "CapNhatTienDoHoSoMC"
    assert only_rejection(wrap(service, item)) == (reason, 0)


def test_informational_times_and_other_kinds_fields_are_not_validated() -> None:
    ev = one(wrap("CapNhatTienDoHoSoMC", step(NgayBatDau="x", NgayTiepNhan="x")))
    assert ev.kind is EventKind.STEP
    ev = one(wrap("DongBoHoSoMC", snapshot(ThoiDiemXuLy="x", NgayXinLoi="x")))
    assert ev.kind is EventKind.SNAPSHOT


def test_descriptive_numbers_read_as_text() -> None:
    ev = one(wrap("DongBoHoSoMC", snapshot(MaTTHC=1.5, KenhThucHien=2, DonViXuLy=["x"])))
    assert ev.procedure_code == "1.5" and ev.channel == "2" and ev.unit_name is None


def test_identity_ignores_provenance_and_index() -> None:
    a = run(wrap("CapNhatTienDoHoSoMC", step()), make_ctx(offset=1, partition=0)).events[0]
    b = run([step(NoiDungXuLy="other note")], make_ctx(offset=9, partition=5)).events[0]
    c = run(wrap("CapNhatTienDoHoSoMC", step(TrangThai="x"), step()), make_ctx()).events[0]
    assert a.event_id == b.event_id == c.event_id and c.item_index == 1
    # the same instant written another way is the same event; a different holder is not
    d = run([step(ThoiDiemXuLy="2026-11-04T02:00:00Z")]).events[0]
    e = run([step(NguoiXuLy="Someone else")]).events[0]
    assert d.event_id == a.event_id != e.event_id
    f = run(wrap("CapNhatTienDoHoSoMC", step(TrangThai=5))).events[0]
    assert f.event_id != a.event_id


def test_snapshot_identity_depends_on_first_sync() -> None:
    a = one(wrap("DongBoHoSoMC", snapshot(), isUpdating=False))
    b = one(wrap("DongBoHoSoMC", snapshot(), isUpdating=True))
    c = one(wrap("DongBoHoSoMC", snapshot(), isUpdating="false", session="s", madonvi="m"))
    assert a.event_id != b.event_id and a.event_id == c.event_id
