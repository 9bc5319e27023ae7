"""The bounds every connector enforces against a hostile or broken feed (docs/settings.md,
"Bounds"): items per one-stop message, the window of accepted times around the wall clock, the
length of free text and of ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connectors import Context, Decoded, Reason, civil, land, onestop, tax
from tests.unit.connectors.connector_ctx import SECURITY_CODE, make_ctx

VN = timezone(timedelta(hours=7))
CODE = "000.00.12.H49-261103-0001"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=VN)
AGE_DAYS, LEAD_S = 3650.0, 86_400.0


def windowed(**overrides: Any) -> Context:
    """A context with the intake's wall-clock window (the defaults of the settings)."""
    values: dict[str, Any] = {
        "now": NOW,
        "max_event_age_days": AGE_DAYS,
        "max_event_lead_s": LEAD_S,
    }
    values.update(overrides)
    return make_ctx(**values)


def js(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def compact(t: datetime) -> str:
    return t.astimezone(VN).strftime("%Y%m%d%H%M%S")


def step(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "MaHoSo": CODE,
        "NguoiXuLy": "Trần Thị Bình",
        "PhongBanXuLy": "Chi nhánh Thăng Bình",
        "ThoiDiemXuLy": "20261104090000",
        "NoiDungXuLy": "Chuyển hồ sơ để thẩm định",
        "TrangThai": "4",
        "NgayKetThucTheoQuyDinh": "20261110170000",
    }
    item.update(fields)
    return item


def snapshot(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "MaHoSo": CODE,
        "MaTTHC": "1.013831",
        "TrangThaiHoSo": "2",
        "NgayTiepNhan": "20261103083000",
        "NgayHenTra": "20261117170000",
    }
    item.update(fields)
    return item


def steps(*items: dict[str, Any]) -> bytes:
    return js({"service": "CapNhatTienDoHoSoMC", "data": list(items)})


def land_msg(callback: str, **fields: Any) -> bytes:
    return js(
        {
            "callback": callback,
            "SoBienNhan": CODE,
            "MaHoSoVBDLIS": "VBD-1",
            "SecurityCode": SECURITY_CODE,
            **fields,
        }
    )


def tax_msg(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "eventId": "f1c2",
        "eventType": "NOTICE_ISSUED",
        "dossierRef": CODE,
        "noticeNo": "TB-1",
        "occurredAt": 1794448800000,
    }
    doc.update(fields)
    return js(doc)


def civil_doc(**fields: str) -> bytes:
    merged = {
        "MaSuKien": "HT-1",
        "SoHoSo": "HT.49.2026.000123",
        "MaHoSoMotCua": "000.23.12.H49-261103-0002",
        "LoaiViec": "KHAI_SINH",
        "MaTTHC": "1.001193",
        "TrangThai": "DA_CO_KET_QUA",
        "ThoiGian": "03/11/2026 10:15",
        "CanBo": "Võ Thị Hoa",
        "CoQuan": "UBND xã Bình Minh",
        **fields,
    }
    body = "".join(f"<{k}>{v}</{k}>" for k, v in merged.items())
    return f'<SuKienHoTich xmlns="urn:hotich:sukien:1">{body}</SuKienHoTich>'.encode()


def whole(out: Decoded) -> tuple[Reason, str]:
    """The one whole-message rejection of an outcome that has nothing else."""
    assert out.events == [] and out.informational == 0, out
    assert len(out.rejections) == 1 and out.rejections[0].item is None, out.rejections
    return out.rejections[0].reason, out.rejections[0].message


# --- items per one-stop message -----------------------------------------------------------------


@pytest.mark.parametrize("bare", [False, True], ids=["wrapper", "bare list"])
def test_more_items_than_the_bound_is_one_too_large(bare: bool) -> None:
    items = [step() for _ in range(1001)]
    raw = js(items) if bare else steps(*items)
    reason, message = whole(onestop.decode(raw, make_ctx()))  # the default bound: 1000
    assert reason is Reason.TOO_LARGE
    assert "1001 items" in message and "MOTCUA_MAX_ITEMS_PER_MESSAGE" in message
    assert "1000" in message


def test_items_up_to_the_bound_are_decoded_one_by_one() -> None:
    out = onestop.decode(steps(*[step() for _ in range(5)]), make_ctx(max_items=5))
    assert len(out.events) == 5 and out.rejections == []
    reason, _ = whole(onestop.decode(steps(*[step() for _ in range(6)]), make_ctx(max_items=5)))
    assert reason is Reason.TOO_LARGE


def test_the_item_bound_is_decided_before_any_item() -> None:
    """Bad items past the bound never reach the item decoder: one rejection, not 1001."""
    out = onestop.decode(js([1] * 1001), make_ctx())
    assert whole(out)[0] is Reason.TOO_LARGE


def test_the_item_bound_comes_after_the_wrapper() -> None:
    """An unknown service stays UNKNOWN_STATUS whatever its item count: the count is read from
    `data` once the wrapper is known."""
    raw = js({"service": "Nope", "data": [step() for _ in range(1001)]})
    assert whole(onestop.decode(raw, make_ctx()))[0] is Reason.UNKNOWN_STATUS


# --- the window of accepted times ----------------------------------------------------------------


@pytest.mark.parametrize("callback", ["DongBoTrangThaiChoBoSung", "YeuCauBoSungHoSo"])
def test_a_land_pause_starting_in_1990_is_bad_time(callback: str) -> None:
    raw = land_msg(callback, NgayChoBoSung="1990-01-01T03:00:00", LaTamDung=True)
    reason, message = whole(land.decode(raw, windowed()))
    assert reason is Reason.BAD_TIME and "1990" in message
    # without a wall clock (pure tests, replays of the sample feed) there is no window
    assert len(land.decode(raw, make_ctx()).events) == 1


def test_a_land_pause_ending_in_1990_is_bad_time() -> None:
    raw = land_msg("NhanBoSungHoSo", NgayNhanBoSung="1990-01-01T03:00:00")
    assert whole(land.decode(raw, windowed()))[0] is Reason.BAD_TIME


def test_event_times_past_the_lead_are_bad_time() -> None:
    ahead = NOW + timedelta(seconds=LEAD_S + 60)
    ms = int(ahead.timestamp() * 1000)
    assert whole(tax.decode(tax_msg(occurredAt=ms), windowed()))[0] is Reason.BAD_TIME
    ok = int((NOW + timedelta(seconds=LEAD_S)).timestamp() * 1000)  # the bound itself is in
    assert len(tax.decode(tax_msg(occurredAt=ok), windowed()).events) == 1
    # a shorter lead refuses what a longer one accepts
    soon = int((NOW + timedelta(hours=2)).timestamp() * 1000)
    assert len(tax.decode(tax_msg(occurredAt=soon), windowed()).events) == 1
    assert whole(tax.decode(tax_msg(occurredAt=soon), windowed(max_event_lead_s=3600)))[0] is (
        Reason.BAD_TIME
    )


def test_event_times_older_than_the_age_are_bad_time() -> None:
    assert whole(civil.decode(civil_doc(ThoiGian="01/01/1990 08:00"), windowed()))[0] is (
        Reason.BAD_TIME
    )
    old = (NOW - timedelta(days=AGE_DAYS - 1)).strftime("%d/%m/%Y %H:%M")
    assert len(civil.decode(civil_doc(ThoiGian=old), windowed()).events) == 1
    assert whole(civil.decode(civil_doc(ThoiGian=old), windowed(max_event_age_days=30)))[0] is (
        Reason.BAD_TIME
    )


def test_a_bad_one_stop_item_time_rejects_that_item_only() -> None:
    ahead = compact(NOW + timedelta(days=3))
    out = onestop.decode(steps(step(), step(ThoiDiemXuLy=ahead), step()), windowed())
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.BAD_TIME, 1)]
    assert [ev.item_index for ev in out.events] == [0, 2]


def test_other_times_may_lie_ahead_but_within_the_age() -> None:
    """A due date or a step deadline may be in the future, but not in 1990 or 8000."""
    next_year = compact(NOW + timedelta(days=365))
    snap = js({"service": "DongBoHoSoMC", "data": [snapshot(NgayHenTra=next_year)]})
    assert len(onestop.decode(snap, windowed()).events) == 1
    for far in ("80000101000000", "19900101000000"):
        out = onestop.decode(
            js({"service": "DongBoHoSoMC", "data": [snapshot(NgayHenTra=far)]}), windowed()
        )
        assert [(r.reason, r.item) for r in out.rejections] == [(Reason.BAD_TIME, 0)]
        out = onestop.decode(steps(step(NgayKetThucTheoQuyDinh=far)), windowed())
        assert [(r.reason, r.item) for r in out.rejections] == [(Reason.BAD_TIME, 0)]
    hand_over = land_msg(
        "ChuyenHoSo", NgayChuyen="2026-11-05T08:15:00+07:00", HanXuLy="1990-01-01T00:00:00"
    )
    assert whole(land.decode(hand_over, windowed()))[0] is Reason.BAD_TIME


def test_a_snapshot_receipt_in_1990_is_bad_time_whatever_its_latest_time() -> None:
    item = snapshot(TrangThaiHoSo="10", NgayTiepNhan="19900101083000", NgayTra="20261115080000")
    out = onestop.decode(js({"service": "DongBoHoSoMC", "data": [item]}), windowed())
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.BAD_TIME, 0)]


def test_an_informational_time_out_of_the_window_is_dropped_not_rejected() -> None:
    apology = {"MaHoSo": CODE, "NgayXinLoi": "20261116100000", "NgayHenTraMoi": "19900101000000"}
    out = onestop.decode(js({"service": "GuiPhieuXinLoi", "data": [apology]}), windowed())
    assert out.rejections == [] and len(out.events) == 1
    assert out.events[0].new_due_at is None
    apology["NgayHenTraMoi"] = "20261125170000"
    out = onestop.decode(js({"service": "GuiPhieuXinLoi", "data": [apology]}), windowed())
    assert out.events[0].new_due_at == datetime(2026, 11, 25, 17, 0, tzinfo=VN)


def test_the_window_does_not_change_event_identity() -> None:
    raw = steps(step())
    assert (
        onestop.decode(raw, windowed()).events[0].event_id
        == onestop.decode(raw, make_ctx()).events[0].event_id
    )


def test_the_window_reads_instants_not_offsets() -> None:
    """A time written in UTC is compared as the instant it is."""
    edge = (NOW + timedelta(seconds=LEAD_S)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        len(
            land.decode(
                land_msg("KetThucHoSo", NgayKetThuc=edge, TrangThaiKetThuc=0), windowed()
            ).events
        )
        == 1
    )


# --- free text and ids ----------------------------------------------------------------------------


def test_free_text_is_cut_to_the_bound() -> None:
    long_note, long_unit = "n" * 5000, "Phòng " * 1000
    out = onestop.decode(steps(step(NoiDungXuLy=long_note, PhongBanXuLy=long_unit)), make_ctx())
    ev = out.events[0]
    assert ev.note == long_note[:2000] and ev.holder_unit == long_unit[:2000]  # the default
    out = onestop.decode(steps(step(NoiDungXuLy=long_note)), make_ctx(max_text_chars=100))
    assert out.events[0].note == "n" * 100
    assert out.events[0].holder_officer == "Trần Thị Bình"  # short text is kept as it is


def test_descriptive_codes_are_cut_never_rejected() -> None:
    """MaTTHC and KenhThucHien are descriptive (sources.md): never a reason to reject, so an
    overlong one is cut to the length of an id."""
    ev = civil.decode(civil_doc(MaTTHC="1." + "9" * 500), make_ctx()).events[0]
    assert ev.procedure_code == ("1." + "9" * 500)[:200]


@pytest.mark.parametrize("length", [201, 5000])
def test_an_overlong_id_is_schema_error(length: int) -> None:
    code = "0" * length
    out = onestop.decode(steps(step(), step(MaHoSo=code)), make_ctx())
    assert [(r.reason, r.item) for r in out.rejections] == [(Reason.SCHEMA_ERROR, 1)]
    assert whole(tax.decode(tax_msg(eventId=code), make_ctx()))[0] is Reason.SCHEMA_ERROR
    assert whole(tax.decode(tax_msg(noticeNo=code), make_ctx()))[0] is Reason.SCHEMA_ERROR
    assert whole(civil.decode(civil_doc(MaSuKien=code), make_ctx()))[0] is Reason.SCHEMA_ERROR


def test_an_id_of_200_characters_is_kept() -> None:
    code = "0" * 200
    assert onestop.decode(steps(step(MaHoSo=code)), make_ctx()).events[0].dossier_code == code
