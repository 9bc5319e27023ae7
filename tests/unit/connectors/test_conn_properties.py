"""Property tests: no input makes a connector raise, and every outcome is well-formed."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import CONNECTORS, Decoded, Reason
from tests.unit.connectors.connector_ctx import make_ctx

SAMPLES = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts" / "samples"
).resolve()
FILES = {
    "onestop": "onestop.jsonl",
    "land": "land.jsonl",
    "tax": "tax.jsonl",
    "civil": "civil.xmll",
}
FALLBACK = {
    "onestop": b'{"service": "CapNhatTienDoHoSoMC", "data": [{"MaHoSo": "A", "TrangThai": 4,'
    b' "ThoiDiemXuLy": "20261104090000", "NgayKetThucTheoQuyDinh": "20261110170000"}]}',
    "land": b'{"callback": "ChuyenHoSo", "SoBienNhan": "A", "SecurityCode": "QNAM-VBDLIS-7f3a9c",'
    b' "NgayChuyen": "2026-11-05T06:39:00", "HanXuLy": 2.5}',
    "tax": b'{"eventId": "e", "eventType": "PAID", "dossierRef": "A", "noticeNo": "T",'
    b' "occurredAt": 1794448800000}',
    "civil": b'<SuKienHoTich xmlns="urn:hotich:sukien:1"><MaSuKien>M</MaSuKien><SoHoSo>S</SoHoSo>'
    b"<TrangThai>TU_CHOI</TrangThai><ThoiGian>03/11/2026 10:15</ThoiGian></SuKienHoTich>",
}


def _seeds(source: str) -> list[bytes]:
    path = SAMPLES / FILES[source]
    lines = path.read_bytes().split(b"\n") if path.is_file() else []
    return [FALLBACK[source], *(line for line in lines[:60] if line.strip() and len(line) < 5000)]


SEEDS = {source: _seeds(source) for source in FILES}
CTX = make_ctx()
SOURCES = st.sampled_from(sorted(FILES))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _check(out: Decoded) -> None:
    assert isinstance(out, Decoded)
    assert out.events or out.rejections or out.informational
    for r in out.rejections:
        assert isinstance(r.reason, Reason) and r.reason is not Reason.INTERNAL, r
        assert isinstance(r.message, str) and r.message
    for ev in out.events:
        assert ev.event_id


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=SOURCES, raw=st.binary(max_size=400))
def test_arbitrary_bytes(source: str, raw: bytes) -> None:
    _check(CONNECTORS[source](raw, CTX))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=SOURCES, data=st.data())
def test_mutated_bytes(source: str, data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(SEEDS[source])))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[pos:]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif raw:
            del raw[pos : pos + data.draw(st.integers(1, 16))]
    _check(CONNECTORS[source](bytes(raw), CTX))


def _mutate_json(value: object, data: st.DataObject) -> object:
    """Replace, drop or re-case one field somewhere in a JSON value."""
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        op = data.draw(st.sampled_from(["replace", "drop", "recase", "descend"]))
        copy = dict(value)
        if op == "replace":
            copy[key] = data.draw(JSON_VALUES)
        elif op == "drop":
            del copy[key]
        elif op == "recase":
            copy[key.swapcase()] = copy.pop(key)
        else:
            copy[key] = _mutate_json(copy[key], data)
        return copy
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        copy_list = list(value)
        copy_list[index] = _mutate_json(copy_list[index], data)
        return copy_list
    return data.draw(JSON_VALUES)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.sampled_from(["onestop", "land", "tax"]), data=st.data())
def test_mutated_json_fields(source: str, data: st.DataObject) -> None:
    seeds = [s for s in SEEDS[source] if _loads(s) is not None]
    value = _loads(data.draw(st.sampled_from(seeds)))
    for _ in range(data.draw(st.integers(1, 3))):
        value = _mutate_json(value, data)
    _check(CONNECTORS[source](json.dumps(value).encode(), CTX))


def _loads(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=30),
    field=st.sampled_from(["MaSuKien", "SoHoSo", "TrangThai", "ThoiGian"]),
)
def test_civil_field_text(text: str, field: str) -> None:
    seed = FALLBACK["civil"].decode()
    start, end = seed.index(f"<{field}>") + len(field) + 2, seed.index(f"</{field}>")
    raw = (seed[:start] + text + seed[end:]).encode("utf-8", "surrogatepass")
    _check(CONNECTORS["civil"](raw, CTX))


def test_redelivery_has_the_same_ids() -> None:
    for source, seeds in SEEDS.items():
        for raw in seeds:
            a = CONNECTORS[source](raw, make_ctx(offset=1, partition=0))
            b = CONNECTORS[source](raw, make_ctx(offset=99, partition=4, topic="other"))
            assert [e.event_id for e in a.events] == [e.event_id for e in b.events]
