"""hub/codec.py: single-object-encoded Avro for alerts and dossier events.

Interoperability is checked against the official Apache `avro` library (not fastavro) and an
independent CRC-64-AVRO written here from the specification's reference algorithm.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest

from hub import codec
from hub.codec import (
    CodecError,
    decode_alert,
    decode_event,
    encode_alert,
    encode_event,
)
from hub.domain.alerts import Alert, AlertState, AlertType
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
ICT = timezone(timedelta(hours=7), "ICT")

# alerts.md, "Fields (names fixed, in this order)".
ALERT_FIELDS = [
    "alert_id",
    "type",
    "state",
    "dossier_code",
    "procedure_code",
    "unit_code",
    "responsible_unit",
    "responsible_officer",
    "due_original",
    "due_current",
    "condition_at",
    "emitted_at",
    "message",
    "details",
]


# --- an independent CRC-64-AVRO, from the Avro specification's reference code ----------------

EMPTY = 0xC15D213AA4D7A795


def _fp_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


FP_TABLE = _fp_table()


def crc64_avro(data: bytes) -> int:
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ b) & 0xFF]
    return fp


def _without_logical_types(node: Any) -> Any:
    """The schema JSON minus `logicalType`: the spec's [STRIP] step, done before parsing.

    The avro library (1.12) keeps `{"type":"long"}` for a primitive that carries a logicalType
    instead of the spec's simple form `"long"` ([PRIMITIVES]; the Java reference writes "long"),
    so its canonical form and fingerprint of a schema with logical types differ from Java's.
    Stripping first gives the spec's Parsing Canonical Form through the avro library.
    """
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


def spec_canonical_form(file: str) -> str:
    schema = json.loads((SCHEMAS / file).read_text(encoding="utf-8"))
    canonical: str = avro.schema.parse(json.dumps(_without_logical_types(schema))).canonical_form
    return canonical


def avro_lib_schema(file: str) -> avro.schema.Schema:
    return avro.schema.parse((SCHEMAS / file).read_text(encoding="utf-8"))


def avro_lib_decode(file: str, body: bytes) -> Any:
    decoder = avro.io.BinaryDecoder(io.BytesIO(body))
    return avro.io.DatumReader(avro_lib_schema(file)).read(decoder)


def avro_lib_encode(file: str, datum: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    avro.io.DatumWriter(avro_lib_schema(file)).write(datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def spec_header(file: str) -> bytes:
    return b"\xc3\x01" + crc64_avro(spec_canonical_form(file).encode()).to_bytes(8, "little")


# --- samples ---------------------------------------------------------------------------------


def make_alert(**over: Any) -> Alert:
    fields: dict[str, Any] = {
        "alert_id": "PROCESSING_LATE:000.00.12.H49-261103-0001:1",
        "type": AlertType.PROCESSING_LATE,
        "state": AlertState.RAISED,
        "dossier_code": "000.00.12.H49-261103-0001",
        "procedure_code": "1.004227",
        "unit_code": "000.00.12.H49",
        "responsible_unit": "Tổ thẩm định hồ sơ",
        "responsible_officer": "Nguyễn Văn A",
        "due_original": datetime(2026, 11, 17, 17, 0, tzinfo=ICT),
        "due_current": datetime(2026, 11, 19, 17, 0, tzinfo=ICT),
        "condition_at": datetime(2026, 11, 19, 17, 0, 0, 1000, tzinfo=ICT),
        "emitted_at": datetime(2026, 11, 19, 10, 0, 5, 250000, tzinfo=UTC),
        "message": (
            "Hồ sơ 000.00.12.H49-261103-0001 đang xử lý trễ hạn (hẹn trả 17/11/2026 17:00, "
            "gia hạn do tạm dừng đến 19/11/2026 17:00), đang ở Tổ thẩm định hồ sơ"
        ),
        "details": {"step": "Thẩm định", "system": "onestop", "reason": ""},
    }
    fields.update(over)
    return Alert(**fields)


def make_event(**over: Any) -> DossierEvent:
    fields: dict[str, Any] = {
        "event_id": "9f2c1e",
        "source": Source.ONESTOP,
        "kind": EventKind.STEP,
        "dossier_code": "000.00.12.H49-261103-0001",
        "onestop_code": "000.00.12.H49-261103-0001",
        "sector_id": "land:HS-2026-77",
        "event_time": datetime(2026, 11, 3, 8, 15, 30, 123456, tzinfo=ICT),
        "status": 4,
        "first_sync": True,
        "received_at": datetime(2026, 11, 3, 8, 0, tzinfo=ICT),
        "appointment_at": datetime(2026, 11, 17, 17, 0, tzinfo=ICT),
        "refused_at": datetime(2026, 11, 4, 9, 0, 0, 1, tzinfo=ICT),
        "finished_at": datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
        "returned_at": datetime(2026, 11, 6, 9, 0, tzinfo=ICT),
        "holder_unit": "Tổ thẩm định hồ sơ",
        "holder_officer": "Nguyễn Văn A",
        "step_deadline": datetime(2026, 11, 10, 17, 0, tzinfo=ICT),
        "pause": True,
        "with_result": False,
        "civil_status": CivilStatus.DA_CO_KET_QUA,
        "notice_no": "TB-0001",
        "apology_at": datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # pre-epoch
        "procedure_code": "1.004227",
        "procedure_name": "Đăng ký biến động đất đai",
        "unit_name": "Văn phòng đăng ký đất đai",
        "channel": "TRUC_TUYEN",
        "note": "Chuyển thẩm định",
        "new_due_at": datetime(2026, 11, 20, 17, 0, tzinfo=ICT),
        "source_topic": "onestop.progress",
        "source_partition": 3,
        "source_offset": 2**40 + 7,
        "item_index": 0,
    }
    fields.update(over)
    return DossierEvent(**fields)


def minimal_event(**over: Any) -> DossierEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "source": Source.TAX,
        "kind": EventKind.TAX_PAID,
        "dossier_code": "tax:123",
    }
    fields.update(over)
    return DossierEvent(**fields)


# --- schemas ---------------------------------------------------------------------------------


def test_alert_schema_fields_are_the_contracts_table() -> None:
    schema = json.loads((SCHEMAS / "alert.avsc").read_text(encoding="utf-8"))
    assert schema["namespace"] + "." + schema["name"] == "vn.motcua.hub.Alert"
    assert [f["name"] for f in schema["fields"]] == ALERT_FIELDS
    assert list(Alert.model_fields) == ALERT_FIELDS


def test_alert_schema_types() -> None:
    s = avro_lib_schema("alert.avsc")
    assert isinstance(s, avro.schema.RecordSchema)
    f = {field.name: field.type for field in s.fields}
    assert f["type"].fullname == "vn.motcua.hub.AlertType"
    assert f["type"].symbols == [t.value for t in AlertType]
    assert f["state"].fullname == "vn.motcua.hub.AlertState"
    assert f["state"].symbols == [t.value for t in AlertState]
    for name in ("alert_id", "dossier_code", "message"):
        assert f[name].type == "string"
    for name in ("procedure_code", "unit_code", "responsible_unit", "responsible_officer"):
        assert [b.type for b in f[name].schemas] == ["null", "string"]
    for name in ("due_original", "due_current"):
        null, ts = f[name].schemas
        assert (null.type, ts.type, ts.get_prop("logicalType")) == (
            "null",
            "long",
            "timestamp-millis",
        )
    for name in ("condition_at", "emitted_at"):
        assert (f[name].type, f[name].get_prop("logicalType")) == ("long", "timestamp-millis")
    assert (f["details"].type, f["details"].values.type) == ("map", "string")
    optional = {fl.name: fl for fl in s.fields if fl.type.type == "union"}
    assert all(fl.has_default and fl.default is None for fl in optional.values())


def test_event_schema_mirrors_the_model() -> None:
    schema = json.loads((SCHEMAS / "dossier_event.avsc").read_text(encoding="utf-8"))
    assert schema["namespace"] + "." + schema["name"] == "vn.motcua.hub.DossierEvent"
    fields = {f["name"]: f for f in schema["fields"]}
    assert list(fields) == list(DossierEvent.model_fields)
    for name, info in DossierEvent.model_fields.items():
        if info.is_required():
            assert "default" not in fields[name], name
        else:
            assert fields[name]["default"] == info.default, name
    s = avro_lib_schema("dossier_event.avsc")
    assert isinstance(s, avro.schema.RecordSchema)
    types = {f.name: f.type for f in s.fields}
    assert types["source"].symbols == [v.value for v in Source]
    assert types["kind"].symbols == [v.value for v in EventKind]
    assert types["civil_status"].schemas[1].symbols == [v.value for v in CivilStatus]


def test_crc64_avro_reference_vectors() -> None:
    # Values of the Avro project's own fingerprint tests (Java schema-tests / Python test_schema).
    assert crc64_avro(b'"int"').to_bytes(8, "little").hex() == "8f5c393f1ad57572"
    assert crc64_avro(b'"float"').to_bytes(8, "little").hex() == "90d7a83ecb027c4d"
    assert crc64_avro(b'"int"') == 8247732601305521295  # Java's parsingFingerprint64("int")
    assert avro.schema.parse('"long"').fingerprint() == crc64_avro(b'"long"').to_bytes(8, "little")


@pytest.mark.parametrize(
    ("file", "codec_of"),
    [("alert.avsc", codec.alert_codec), ("dossier_event.avsc", codec.event_codec)],
)
def test_fingerprint_is_the_specs(file: str, codec_of: Any) -> None:
    c = codec_of()
    stripped = json.loads((SCHEMAS / file).read_text(encoding="utf-8"))
    stripped = avro.schema.parse(json.dumps(_without_logical_types(stripped)))
    assert c.fingerprint == stripped.fingerprint()  # the avro library's own CRC-64-AVRO
    assert c.fingerprint == crc64_avro(spec_canonical_form(file).encode()).to_bytes(8, "little")
    assert c.header == spec_header(file)


def test_header_bytes() -> None:
    data = encode_alert(make_alert())
    assert data[:2] == b"\xc3\x01"
    assert data[:10] == spec_header("alert.avsc")
    ev = encode_event(make_event())
    assert ev[:10] == spec_header("dossier_event.avsc")
    assert data[2:10] != ev[2:10]


def test_schema_loading_prefers_the_wheels_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "_schemas").mkdir()
    (tmp_path / "_schemas" / "alert.avsc").write_text('{"type": "string"}', encoding="utf-8")
    monkeypatch.setattr(codec, "files", lambda package: tmp_path)
    assert codec.load_schema("alert.avsc") == {"type": "string"}
    # and falls back to the source tree's schemas/ when the packaged copy is absent
    assert codec.load_schema("dossier_event.avsc")["name"] == "DossierEvent"


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(AlertState))
@pytest.mark.parametrize("type_", list(AlertType))
def test_alert_round_trip_every_type_and_state(type_: AlertType, state: AlertState) -> None:
    alert = make_alert(type=type_, state=state)
    back = decode_alert(encode_alert(alert))
    assert back == alert
    assert back.type is type_
    assert back.state is state


def test_alert_round_trip_nulls_and_empty_details() -> None:
    alert = Alert(
        alert_id="x",
        type=AlertType.NOT_RECEIVED_VIA_ONESTOP,
        state=AlertState.RESOLVED,
        dossier_code="land:HS-1",
        condition_at=datetime(2026, 1, 1, tzinfo=UTC),
        emitted_at=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
        message="",
    )
    back = decode_alert(encode_alert(alert))
    assert back == alert
    assert back.procedure_code is None and back.due_original is None and back.details == {}


def test_alert_times_keep_their_instant_to_the_millisecond() -> None:
    alert = make_alert()
    back = decode_alert(encode_alert(alert))
    assert back.condition_at == alert.condition_at  # ICT in, same instant out (in UTC)
    assert back.condition_at.utcoffset() == timedelta(0)
    assert back.due_original == datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
    # timestamp-millis: sub-millisecond digits are dropped
    fine = make_alert(emitted_at=datetime(2026, 1, 1, 7, 0, 0, 123456, tzinfo=ICT))
    assert decode_alert(encode_alert(fine)).emitted_at == datetime(
        2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC
    )


def test_event_round_trip_all_fields() -> None:
    ev = make_event()
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.event_time == ev.event_time and back.event_time is not None
    assert back.event_time.microsecond == 123456  # timestamp-micros: exact
    assert back.apology_at == ev.apology_at


def test_event_round_trip_minimal() -> None:
    ev = minimal_event()
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.first_sync is False and back.with_result is None and back.civil_status is None


@pytest.mark.parametrize("source", list(Source))
def test_event_round_trip_every_source(source: Source) -> None:
    ev = minimal_event(source=source)
    assert decode_event(encode_event(ev)).source is source


@pytest.mark.parametrize("kind", list(EventKind))
def test_event_round_trip_every_kind(kind: EventKind) -> None:
    ev = make_event(kind=kind)
    assert decode_event(encode_event(ev)).kind is kind


@pytest.mark.parametrize("status", [*CivilStatus, None])
def test_event_round_trip_every_civil_status(status: CivilStatus | None) -> None:
    ev = make_event(civil_status=status, with_result=None if status is None else True)
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.civil_status is status


# --- errors ----------------------------------------------------------------------------------


def test_fingerprint_mismatch() -> None:
    data = bytearray(encode_alert(make_alert()))
    data[5] ^= 0xFF
    with pytest.raises(CodecError, match="fingerprint"):
        decode_alert(bytes(data))


def test_event_bytes_are_not_an_alert() -> None:
    with pytest.raises(CodecError, match="unknown schema"):
        decode_alert(encode_event(make_event()))
    with pytest.raises(CodecError, match="unknown schema"):
        decode_event(encode_alert(make_alert()))


def test_bad_magic_and_short_input() -> None:
    data = encode_alert(make_alert())
    with pytest.raises(CodecError, match="single-object"):
        decode_alert(b"\x00\x01" + data[2:])
    with pytest.raises(CodecError, match="too short"):
        decode_alert(data[:9])
    with pytest.raises(CodecError):
        decode_alert(b"")
    assert issubclass(CodecError, ValueError)


def test_truncated_and_overlong_body() -> None:
    data = encode_event(make_event())
    with pytest.raises(CodecError, match="corrupt"):
        decode_event(data[:-3])
    with pytest.raises(CodecError, match="trailing"):
        decode_event(data + b"\x00")


# --- interoperability with the Apache avro library ---------------------------------------------


def test_avro_lib_reads_hub_alerts() -> None:
    alert = make_alert()
    data = encode_alert(alert)
    assert data[:10] == spec_header("alert.avsc")
    rec = avro_lib_decode("alert.avsc", data[10:])
    assert list(rec) == ALERT_FIELDS
    expected = alert.model_dump(mode="python")
    expected["type"] = alert.type.value
    expected["state"] = alert.state.value
    expected["condition_at"] = datetime(2026, 11, 19, 10, 0, 0, 1000, tzinfo=UTC)
    assert rec == expected


def test_avro_lib_reads_hub_events() -> None:
    for ev in (make_event(), minimal_event()):
        data = encode_event(ev)
        assert data[:10] == spec_header("dossier_event.avsc")
        rec = avro_lib_decode("dossier_event.avsc", data[10:])
        assert list(rec) == list(DossierEvent.model_fields)
        expected = ev.model_dump(mode="python")
        for key in ("source", "kind", "civil_status"):
            if expected[key] is not None:
                expected[key] = expected[key].value
        assert rec == expected
        assert DossierEvent.model_validate(rec) == ev


def test_hub_reads_avro_lib_alerts() -> None:
    datum = {
        "alert_id": "DUE_SOON:000.00.12.H49-261103-0002:1",
        "type": "DUE_SOON",
        "state": "RESOLVED",
        "dossier_code": "000.00.12.H49-261103-0002",
        "procedure_code": None,
        "unit_code": "000.00.12.H49",
        "responsible_unit": None,
        "responsible_officer": "Trần Thị B",
        "due_original": datetime(2026, 11, 17, 17, 0, tzinfo=ICT),
        "due_current": None,
        "condition_at": datetime(2026, 11, 16, 8, 30, 0, 500000, tzinfo=ICT),
        "emitted_at": datetime(2026, 11, 16, 1, 30, 1, tzinfo=UTC),
        "message": "Hồ sơ sắp đến hạn",
        "details": {"step": "Tiếp nhận"},
    }
    data = spec_header("alert.avsc") + avro_lib_encode("alert.avsc", datum)
    alert = decode_alert(data)
    assert alert == Alert.model_validate(datum)
    assert alert.type is AlertType.DUE_SOON and alert.state is AlertState.RESOLVED
    assert encode_alert(alert) == data  # byte-identical both ways


def test_hub_reads_avro_lib_events() -> None:
    datum: dict[str, Any] = make_event().model_dump(mode="python")
    for key in ("source", "kind", "civil_status"):
        datum[key] = datum[key].value
    data = spec_header("dossier_event.avsc") + avro_lib_encode("dossier_event.avsc", datum)
    ev = decode_event(data)
    assert ev == make_event()
    assert encode_event(ev) == data
