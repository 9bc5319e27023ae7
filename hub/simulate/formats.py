"""Rendering one simulated message into the exact bytes of its source format (sources.md).

Pure: the same `Msg` always renders to the same bytes. Valid messages follow the vendor shapes of
the one-stop products (§1) and the land adapters' styles (§2); malformed ones (`Msg.malformed`)
are built to dead-letter with exactly that reason, whatever the first-failing-check order.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from hub.simulate.records import Dossier, Ev, Msg
from hub.simulate.systems import (
    BARELIST,
    CAMEL,
    CANONICAL,
    FILE_NAMES,
    LAND,
    LAND_CAMEL,
    LAND_CANON,
    ONESTOP,
    SESSION,
    TAX,
    TOPICS,
)

# TOPICS and FILE_NAMES (views of the one registry of sources, in `systems`) stay importable here
__all__ = ["FILE_NAMES", "TOPICS", "render"]

WORKFLOW = {
    1: "receiving",
    2: "new",
    3: "denied",
    4: "processing",
    5: "waiting",
    6: "paying",
    7: "cancelled",
    8: "unresolved",
    9: "releasing",
    10: "done",
}
SERVICES = {"snapshot": "DongBoHoSoMC", "step": "CapNhatTienDoHoSoMC", "apology": "GuiPhieuXinLoi"}
LAND_CALLBACKS = {  # kind -> (canonical name, route name)
    "handover": ("DongBoTrangThaiLuanChuyenHoSo", "ChuyenHoSo"),
    "supp_req": ("DongBoTrangThaiChoBoSung", "YeuCauBoSungHoSo"),
    "supp_recv": ("DongBoTrangThaiDaBoSung", "NhanBoSungHoSo"),
    "tax_result": ("DongBoKetQuaThue", "GuiKetQuaThue"),
    "close": ("DongBoTrangThaiKetThuc", "KetThucHoSo"),
}
LAND_OWN_TIME = {
    "handover": "NgayChuyen",
    "supp_req": "NgayChoBoSung",
    "supp_recv": "NgayDaBoSung",
    "close": "NgayKetThuc",
}
CIVIL_NS = "urn:hotich:sukien:1"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _digest(*parts: object) -> str:
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


def render(msg: Msg, *, security_code: str = "", max_bytes: int = 524288) -> bytes:
    """The exact bytes of `msg` as its source system sends them."""
    if msg.source == ONESTOP:
        return _onestop(msg, max_bytes)
    if msg.source == LAND:
        return _land(msg, security_code, max_bytes)
    if msg.source == TAX:
        return _tax(msg)
    return _civil(msg)


# ------------------------------------------------------------------------------------------------
# one-stop (§1)


def _os_time(vendor: str, t: datetime | None, kind: str = "step", ms: int = 0) -> str:
    if t is None:
        return ""
    if vendor in (CANONICAL, SESSION):
        return f"{t:%Y%m%d%H%M%S}"
    if vendor == CAMEL:
        return t.isoformat()
    if kind == "snapshot":
        return f"{t:%Y-%m-%d %H:%M:%S}"
    return f"{t:%Y-%m-%dT%H:%M:%S}.{ms:03d}"


def _os_status(vendor: str, status: int) -> Any:
    if vendor == BARELIST:
        return status
    if vendor == SESSION:
        return WORKFLOW[status]
    return str(status)


def _os_item(d: Dossier, ev: Ev, vendor: str) -> dict[str, Any]:
    a = ev.a
    code = d.code or ""
    if ev.kind == "snapshot":
        item: dict[str, Any] = {
            "MaHoSo": code,
            "MaTTHC": d.procedure.code,
            "TenTTHC": d.procedure.name,
            "MaLinhVuc": d.procedure.field_code,
            "TenLinhVuc": d.procedure.field_name,
            "KenhThucHien": d.channel,
            "ChuHoSo": d.applicant,
            "SoGiayToChuHoSo": d.id_number,
            "LoaiDoiTuong": "1",
            "NgayTiepNhan": _os_time(vendor, a["received"], "snapshot"),
            "NgayHenTra": _os_time(vendor, a["due"], "snapshot"),
            "TrangThaiHoSo": _os_status(vendor, a["status"]),
            "NgayKetThucXuLy": _os_time(vendor, a["finished"], "snapshot"),
            "NgayTra": _os_time(vendor, a["returned"], "snapshot"),
            "NgayTuChoi": _os_time(vendor, a["refused"], "snapshot"),
            "DonViXuLy": d.unit.name,
        }
        if vendor == SESSION:
            del item["NgayTuChoi"]
            item.update({"HinhThuc": "0", "DanhSachLePhi": [], "DanhSachGiayTo": []})
    elif ev.kind == "step":
        officer = a["officer"]
        ms = int(_digest(code, ev.at)[:4], 16) % 1000
        item = {
            "MaHoSo": code,
            "NguoiXuLy": officer.name,
            "ChucDanh": officer.title,
            "PhongBanXuLy": officer.dept,
            "ThoiDiemXuLy": _os_time(vendor, ev.at),
            "NoiDungXuLy": a["content"],
            "TrangThai": _os_status(vendor, a["status"]),
            "NgayBatDau": _os_time(vendor, ev.at, ms=ms),
            "NgayKetThucTheoQuyDinh": _os_time(vendor, a["deadline"]),
        }
    else:  # apology
        item = {
            "MaHoSo": code,
            "NgayXinLoi": _os_time(vendor, ev.at),
            "LyDo": a["reason"],
            "NgayHenTraMoi": _os_time(vendor, a["new_due"]),
            "DonViXinLoi": d.unit.name,
            "NguoiKy": a["signer"].name,
        }
    if vendor == BARELIST:
        item["IdHoSo"] = str(int(_digest(code)[:8], 16))
    return item


def _camel(item: dict[str, Any]) -> dict[str, Any]:
    return {k[:1].lower() + k[1:]: v for k, v in item.items()}


def _wrap(msg: Msg, items: list[Any], kind: str, service: str | None = None) -> Any:
    d, vendor = msg.dossier, msg.dossier.vendor
    service = service or SERVICES[kind]
    first = bool(msg.evs[0].a.get("first")) if kind == "snapshot" else False
    if vendor == BARELIST:
        return items
    if vendor == CAMEL:
        items = [_camel(i) if isinstance(i, dict) else i for i in items]
    wrapper: dict[str, Any] = {}
    if vendor == SESSION:
        wrapper["session"] = _digest(d.unit.code, msg.evs[0].at.date(), msg.evs[0].at.hour)
        wrapper["madonvi"] = d.unit.code
    wrapper["service"] = service
    if kind == "snapshot":
        wrapper["isUpdating"] = ("False" if first else "True") if vendor == SESSION else not first
    single = vendor == CAMEL and len(items) == 1 and not first and msg.variant % 3 == 0
    wrapper["data"] = items[0] if single else items
    return wrapper


def _onestop(msg: Msg, max_bytes: int) -> bytes:
    d, vendor = msg.dossier, msg.dossier.vendor
    kind = msg.evs[0].kind
    items: list[Any] = [_os_item(d, ev, vendor) for ev in msg.evs]
    reason = msg.malformed
    if reason is None:
        return _dumps(_wrap(msg, items, kind))
    v = msg.variant
    item = items[0]
    status_key = {"snapshot": "TrangThaiHoSo", "step": "TrangThai"}.get(kind)
    if reason == "DECODE_ERROR":
        text = _dumps(_wrap(msg, items, kind))
        if v % 2 == 0:
            return text[: max(1, len(text) * (30 + v % 60) // 100)]
        return text.replace(b'"MaHoSo"', b'"MaHoSo": NaN, "MaHoSo_"', 1).replace(
            b'"maHoSo"', b'"maHoSo": NaN, "maHoSo_"', 1
        )
    if reason == "SCHEMA_ERROR":
        choice = v % 3
        if choice == 0:
            return _dumps(_wrap(msg, [], kind)) if vendor != BARELIST else b"[]"
        if choice == 1:
            return _dumps(_wrap(msg, [item["MaHoSo"]], kind))
        if vendor == BARELIST:  # an item of no known kind
            return _dumps([{"MaHoSo": item["MaHoSo"], "GhiChu": "đồng bộ lại"}])
        body = _wrap(msg, [item], kind)
        del body["service"]
        return _dumps(body)
    if reason == "UNKNOWN_STATUS":
        if vendor != BARELIST and (status_key is None or v % 4 == 0):
            return _dumps(_wrap(msg, [item], kind, service=SERVICES[kind] + "V2"))
        if status_key is None:  # a bare-list apology: classified a snapshot by this field
            status_key = "TrangThaiHoSo"
        item[status_key] = ("11", 0, "interoperating", "")[v % 4]
        return _dumps(_wrap(msg, [item], kind))
    if reason == "BAD_TIME":
        field = {"snapshot": "NgayTiepNhan", "step": "ThoiDiemXuLy", "apology": "NgayXinLoi"}[kind]
        ev = msg.evs[0]
        item[field] = (f"{ev.at:%d/%m/%Y %H:%M}", f"{ev.at:%Y%m%d}", f"{ev.at:%Y-%m-%d}T25:61:00")[
            v % 3
        ]
        return _dumps(_wrap(msg, [item], kind))
    if reason == "NO_DOSSIER_KEY":
        del item["MaHoSo"]
        return _dumps(_wrap(msg, [item], kind))
    if reason == "TOO_LARGE":
        item["DanhSachGiayTo"] = [
            {"TenGiayTo": "Bản quét hồ sơ", "NoiDung": _blob(max_bytes + 1024 + v % 65536)}
        ]
        return _dumps(_wrap(msg, [item], kind))
    raise ValueError(f"no malformed one-stop message for {reason}")


def _blob(size: int) -> str:
    chunk = base64.b64encode(bytes(range(256)) * 3).decode()
    return (chunk * (size // len(chunk) + 1))[:size]


# ------------------------------------------------------------------------------------------------
# land (§2)


def _land_time(style: str, t: datetime, v: int) -> str:
    if style == LAND_CANON:
        return t.isoformat()
    utc = t.astimezone(UTC)
    if style == LAND_CAMEL:
        return f"{utc:%Y-%m-%dT%H:%M:%S}" + (".0000000" if v % 4 == 0 else "")
    return f"{utc:%Y-%m-%dT%H:%M:%S}Z"


def _land_body(msg: Msg, security_code: str) -> dict[str, Any]:
    d, ev = msg.dossier, msg.evs[0]
    a, style, v = ev.a, d.land_style, msg.variant
    canon = style == LAND_CANON
    tm: Callable[[datetime], str] = lambda t: _land_time(style, t, v)  # noqa: E731
    names = LAND_CALLBACKS.get(ev.kind)
    callback = a["callback"] if names is None else names[0 if canon else 1]
    body: dict[str, Any] = {"callback": callback}
    if d.code is not None:
        body["SoBienNhan"] = d.code
    elif not canon:
        body["SoBienNhan"] = ""
    if d.land_id_on_events:
        body["MaHoSoVBDLIS"] = d.land_id
    body["SecurityCode"] = security_code
    if ev.kind == "handover":
        to = a["to"]
        body["MaCanBoChuyen"] = a["frm"]
        body["MaCanBoNhan"] = to.login
        if canon:
            body["PhongBanNhan"] = a["dept"]
        body["MaTrangThai"] = a["code"]
        body["NoiDungXuLy"] = a["text"]
        if not canon:
            body["LaTrangThaiChuyenLai"] = False
            body["DanhSachTapTin"] = []
        body["NgayChuyen"] = tm(ev.at)
        if a.get("deadline") is not None:
            days = a.get("deadline_days")
            body["HanXuLy"] = days if days is not None else tm(a["deadline"])
    elif ev.kind == "supp_req":
        body["NgayChoBoSung"] = tm(ev.at)
        body["LaTamDung"] = bool(a["pausing"])
        body["NoiDung"] = a["note"]
    elif ev.kind == "supp_recv":
        if canon:
            body["NgayDaBoSung"] = tm(ev.at)
        else:
            body["NgayNhanBoSung"] = tm(ev.at)
            if a.get("new_due") is not None:
                body["NgayHenTraMoi"] = tm(a["new_due"])
    elif ev.kind == "tax_result":
        body["NgayCoKetQuaThue"] = tm(ev.at)
        body["DanhSachThongBaoThue"] = [
            {"SoThongBaoThue": no, "LoaiThue": tt} for no, tt in a["notices"]
        ]
    elif ev.kind == "close":
        body["MaCanBoXuLy"] = a["officer"].login
        body["TrangThaiKetThuc"] = a["result"] if v % 5 else str(a["result"])
        body["NgayKetThuc"] = tm(ev.at)
    if style == LAND_CAMEL:
        body = {
            k if k in ("callback", "SecurityCode") else k[:1].lower() + k[1:]: val
            for k, val in body.items()
        }
    return body


def _land(msg: Msg, security_code: str, max_bytes: int) -> bytes:
    body = _land_body(msg, security_code)
    reason, v, ev = msg.malformed, msg.variant, msg.evs[0]
    if reason is None:
        return _dumps(body)
    own = LAND_OWN_TIME.get(ev.kind)
    if ev.kind == "supp_recv" and msg.dossier.land_style != LAND_CANON:
        own = "NgayNhanBoSung"

    def key(name: str) -> str:  # the spelling the body uses
        for k in body:
            if k.lower() == name.lower():
                return k
        return name

    if reason == "DECODE_ERROR":
        text = _dumps(body)
        return text[: max(1, len(text) * (30 + v % 60) // 100)]
    if reason == "AUTH_FAILED":
        if v % 2:
            del body["SecurityCode"]
        else:
            body["SecurityCode"] = (security_code or "QNAM") + "-x"
        return _dumps(body)
    if reason == "UNKNOWN_STATUS":
        body["callback"] = "DongBoTrangThaiHuyHoSo"
        return _dumps(body)
    if reason == "NO_DOSSIER_KEY":
        body.pop(key("SoBienNhan"), None)
        body.pop(key("MaHoSoVBDLIS"), None)
        return _dumps(body)
    if reason == "SCHEMA_ERROR":
        if own is not None:
            body.pop(key(own), None)
            return _dumps(body)
        return _dumps([body])
    if reason == "BAD_TIME":
        if own is not None and (ev.kind != "handover" or v % 2):
            body[key(own)] = f"{ev.at:%Y-%m-%d %H:%M:%S}"
            return _dumps(body)
        if ev.kind == "handover":
            body[key("HanXuLy")] = (0, 1500, -2)[v % 3]
            return _dumps(body)
        body["callback"] = LAND_CALLBACKS["close"][0]  # a closing without a usable time
        body[key("NgayKetThuc")] = f"{ev.at:%Y-%m-%d}"
        body[key("TrangThaiKetThuc")] = 0
        return _dumps(body)
    if reason == "TOO_LARGE":
        body[key("DanhSachTapTin")] = [
            {"TenTapTin": "ban-do-dia-chinh.pdf", "NoiDung": _blob(max_bytes + 1024 + v % 65536)}
        ]
        return _dumps(body)
    raise ValueError(f"no malformed land message for {reason}")


# ------------------------------------------------------------------------------------------------
# tax (§3)


def _tax(msg: Msg) -> bytes:
    d, ev = msg.dossier, msg.evs[0]
    a = ev.a
    body: dict[str, Any] = {
        "eventId": a["event_id"],
        "eventType": a["event"],
        "dossierRef": d.code,
        "taxOffice": a["office"],
        "noticeNo": a.get("notice"),
        "taxType": a.get("type"),
        "amountVnd": a.get("amount"),
        "occurredAt": int(ev.at.timestamp()) * 1000,
    }
    reason, v = msg.malformed, msg.variant
    if reason is None:
        return _dumps(body)
    if reason == "DECODE_ERROR":
        if v % 2:
            return _dumps(body).replace(b'"occurredAt": ', b'"amountVnd": Infinity, "occurredAt": ')
        text = _dumps(body)
        return text[: max(1, len(text) * (30 + v % 60) // 100)]
    if reason == "NO_DOSSIER_KEY":
        body["dossierRef"] = None if v % 2 else ""
    elif reason == "UNKNOWN_STATUS":
        body["eventType"] = "NOTICE_REFUNDED"
    elif reason == "SCHEMA_ERROR":
        if v % 2:
            del body["eventId"]
        else:
            body["eventId"] = int(_digest(a["event_id"])[:8], 16)
    elif reason == "BAD_TIME":
        body["occurredAt"] = ev.at.isoformat() if v % 2 else body["occurredAt"] + 0.5
    else:
        raise ValueError(f"no malformed tax message for {reason}")
    return _dumps(body)


# ------------------------------------------------------------------------------------------------
# civil-status (§4)


def _civil(msg: Msg) -> bytes:
    d, ev = msg.dossier, msg.evs[0]
    a, v = ev.a, msg.variant
    fields: list[tuple[str, str | None]] = [
        ("MaSuKien", a["event_id"]),
        ("SoHoSo", d.civil_id),
        ("MaHoSoMotCua", d.code),
        ("LoaiViec", d.civil_kind),
        ("MaTTHC", d.procedure.code),
        ("TrangThai", a["status"]),
        ("ThoiGian", f"{ev.at:%d/%m/%Y %H:%M}"),
        ("CanBo", a["officer"].name),
        ("CoQuan", d.unit.name),
    ]
    reason = msg.malformed
    root = f'SuKienHoTich xmlns="{CIVIL_NS}"'
    doctype = ""
    if reason == "NO_DOSSIER_KEY":
        fields = [(k, val) for k, val in fields if k not in ("SoHoSo", "MaHoSoMotCua")]
    elif reason == "UNKNOWN_STATUS":
        fields = [(k, "HUY_HO_SO" if k == "TrangThai" else val) for k, val in fields]
    elif reason == "BAD_TIME":
        bad = f"{ev.at:%Y-%m-%d %H:%M}" if v % 2 else f"{ev.at:%d/%m/%y %H:%M}"
        fields = [(k, bad if k == "ThoiGian" else val) for k, val in fields]
    elif reason == "SCHEMA_ERROR":
        if v % 2:
            root = "SuKienHoTich"  # no namespace: not the root the format defines
        else:
            fields = [(k, val) for k, val in fields if k != "MaSuKien"]
    parts: list[str] = []
    for k, val in fields:
        if val is None:  # a bypassed dossier: the element empty, or absent
            if k == "MaHoSoMotCua" and int(_digest(d.key)[:2], 16) % 2 == 0:
                parts.append("<MaHoSoMotCua/>")
            continue
        parts.append(f"<{k}>{escape(val)}</{k}>")
    if reason == "DECODE_ERROR" and v % 3 == 0:
        doctype = '<!DOCTYPE SuKienHoTich [<!ENTITY cq "UBND">]>'
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<{root}>'
        + "".join(parts)
        + "</SuKienHoTich>"
    )
    data = xml.encode("utf-8")
    if reason == "DECODE_ERROR":
        if v % 3 == 1:
            return data[: len(data) * (40 + v % 50) // 100]  # not well-formed
        if v % 3 == 2:
            return data.replace(b"<CanBo>", b"<CanBo>\xff", 1)  # not UTF-8
    return data
