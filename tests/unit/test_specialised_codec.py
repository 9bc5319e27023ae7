"""hub/specialised.py: the event codec's specialised path gives fastavro's bytes, values and
errors, for every event and every byte string (the fallback covers what it does not)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import SOURCES, Context
from hub import codec
from hub.codec import HEADER_LEN, CodecError, decode_event, encode_event
from hub.domain.calendar import WorkingCalendar
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source
from hub.settings import DATA_DIR
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.specialised import Unhandled, _read_varint, _varint, compile_record
from tests.unit.test_codec import make_event, minimal_event

SAMPLES = DATA_DIR.parents[1] / "tests" / "contract_samples"


def fastavro_bytes(ev: DossierEvent) -> bytes:
    """What encode_event wrote before: fastavro over the model's fields."""
    buf = BytesIO()
    buf.write(codec._EVENT.header)
    schemaless_writer(buf, codec._EVENT._parsed, dict(ev.__dict__))
    return buf.getvalue()


def fastavro_event(data: bytes) -> DossierEvent:
    """What decode_event returned before: fastavro, then pydantic validation."""
    return DossierEvent.model_validate(codec._EVENT.decode(data))


def outcome(call: Any, arg: Any) -> tuple[str, Any]:
    try:
        return "ok", call(arg)
    except Exception as exc:  # the comparison is of the outcome, whatever it is
        # fastavro names its buffer in some messages ("cannot read boolean from <_io.BytesIO
        # object at 0x7f...>"): the address differs from call to call, the rest must not
        return type(exc).__name__, re.sub(r" at 0x[0-9a-f]+>", " at 0x?>", str(exc))


def same_event(a: DossierEvent, b: DossierEvent) -> None:
    assert a == b
    assert list(a.__dict__) == list(b.__dict__)  # the model's field order
    assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
    assert [type(v) for v in a.__dict__.values()] == [type(v) for v in b.__dict__.values()]
    assert a.model_dump_json() == b.model_dump_json()


def sample_events() -> list[DossierEvent]:
    ctx = Context(
        calendar=WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv"),
        topic="agency.x.status",
        partition=3,
        offset=12_345_678_901,
        land_security_code=DEFAULT_SECURITY_CODE,
    )
    out: list[DossierEvent] = []
    for spec in SOURCES.values():
        for raw in (SAMPLES / spec.sample).read_bytes().split(b"\n"):
            if raw.strip():
                out += spec.decode(raw, ctx).events
    return out


def test_the_specialised_path_is_on() -> None:
    # the schema's fields are the model's, in order: decoded events skip validation
    assert codec._TRUSTED_READ


def test_every_contract_sample_event_is_written_and_read_as_fastavro_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = sample_events()
    assert len(events) > 100
    blobs = [fastavro_bytes(ev) for ev in events]
    expected = [fastavro_event(blob) for blob in blobs]
    # no fallback: the specialised code alone does it
    monkeypatch.setattr(codec.SchemaCodec, "encode", _no_fallback)
    monkeypatch.setattr(codec.SchemaCodec, "decode", _no_fallback)
    for ev, blob, read in zip(events, blobs, expected, strict=True):
        assert encode_event(ev) == blob
        same_event(decode_event(blob), read)


def _no_fallback(*_: Any) -> Any:
    raise AssertionError("fastavro was used")


TEXT = st.text(st.characters(codec="utf-8"), max_size=80) | st.sampled_from(["", "đ" * 70])
# any instant fastavro can write and read back (years 1-9999), in several offsets
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda t: t.astimezone(timezone(timedelta(hours=7))))
INTS = st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, -1, 63, 64, -64, -65, 2**31 - 1])
LONGS = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([2**63 - 1, -(2**63), 127, 128])


@st.composite
def events(draw: st.DrawFn) -> DossierEvent:
    opt = st.none()
    return DossierEvent(
        event_id=draw(TEXT),
        source=draw(st.sampled_from(list(Source))),
        kind=draw(st.sampled_from(list(EventKind))),
        dossier_code=draw(TEXT),
        onestop_code=draw(opt | TEXT),
        sector_id=draw(opt | TEXT),
        event_time=draw(opt | TIMES),
        status=draw(opt | INTS),
        first_sync=draw(st.booleans()),
        received_at=draw(opt | TIMES),
        appointment_at=draw(opt | TIMES),
        refused_at=draw(opt | TIMES),
        finished_at=draw(opt | TIMES),
        returned_at=draw(opt | TIMES),
        holder_unit=draw(opt | TEXT),
        holder_officer=draw(opt | TEXT),
        step_deadline=draw(opt | TIMES),
        pause=draw(st.booleans()),
        with_result=draw(opt | st.booleans()),
        civil_status=draw(opt | st.sampled_from(list(CivilStatus))),
        notice_no=draw(opt | TEXT),
        apology_at=draw(opt | TIMES),
        procedure_code=draw(opt | TEXT),
        procedure_name=draw(opt | TEXT),
        unit_name=draw(opt | TEXT),
        channel=draw(opt | TEXT),
        note=draw(opt | TEXT),
        new_due_at=draw(opt | TIMES),
        source_topic=draw(opt | TEXT),
        source_partition=draw(opt | INTS),
        source_offset=draw(opt | LONGS),
        item_index=draw(opt | INTS),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_any_event_is_written_and_read_as_fastavro_does(ev: DossierEvent) -> None:
    blob = fastavro_bytes(ev)
    assert encode_event(ev) == blob
    same_event(decode_event(blob), fastavro_event(blob))


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid event's bytes, cut, extended, or with bytes changed."""
    blob = bytearray(fastavro_bytes(draw(events())))
    how = draw(st.sampled_from(["cut", "extend", "flip", "flip"]))
    if how == "cut":
        return bytes(blob[: draw(st.integers(0, len(blob) - 1))])
    if how == "extend":
        return bytes(blob) + draw(st.binary(min_size=1, max_size=12))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(HEADER_LEN, len(blob) - 1))
        blob[at] = draw(st.integers(0, 255))
    return bytes(blob)


def slow_decode(data: bytes) -> DossierEvent:
    """decode_event as it was: fastavro and validation, and their errors as CodecError."""
    from pydantic import ValidationError

    record = codec._EVENT.decode(data)
    try:
        return DossierEvent.model_validate(record)
    except ValidationError as exc:
        raise CodecError(f"{codec._EVENT.name}: decoded record does not validate: {exc}") from exc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_bytes_give_what_fastavro_gives(data: bytes) -> None:
    fast, slow = outcome(decode_event, data), outcome(slow_decode, data)
    if fast[0] == "ok" and slow[0] == "ok":
        same_event(fast[1], slow[1])
    else:
        assert fast == slow


def test_values_outside_the_fast_path_fall_back_to_fastavro() -> None:
    # built without validation, as a buggy caller could: fastavro's answer either way
    odd = [
        minimal_event().model_copy(update={"source_offset": 2**64}),
        minimal_event().model_copy(update={"status": 2**31}),
        minimal_event().model_copy(update={"status": True}),
        minimal_event().model_copy(update={"first_sync": 1}),
        minimal_event().model_copy(update={"event_id": "\ud800"}),
        minimal_event().model_copy(update={"event_time": datetime(2026, 1, 1)}),
        minimal_event().model_copy(update={"holder_unit": 12}),
    ]
    for ev in odd:
        assert outcome(encode_event, ev) == outcome(fastavro_bytes, ev)


def test_varints() -> None:
    for n in [0, 1, -1, 63, -64, 64, -65, 2**31, -(2**31), 2**63 - 1, -(2**63), 300, -300]:
        data = _varint(n)
        assert _read_varint(data, 0) == (n, len(data))
    with pytest.raises(Unhandled):  # runs past 64 bits: fastavro's C reader wraps there
        _read_varint(b"\xff" * 9 + b"\x7f", 0)
    with pytest.raises(Unhandled):
        _read_varint(b"\x80" * 11, 0)
    with pytest.raises(Unhandled):
        _read_varint(b"\x80", 0)


def test_only_the_supported_types_are_compiled() -> None:
    with pytest.raises(Unhandled):
        compile_record({"type": "record", "name": "r", "fields": [{"name": "a", "type": "bytes"}]})
    with pytest.raises(Unhandled):
        compile_record(
            {"type": "record", "name": "r", "fields": [{"name": "a", "type": ["int", "null"]}]}
        )
    write, read = compile_record(
        {"type": "record", "name": "r", "fields": [{"name": "a", "type": ["null", "long"]}]}
    )
    out = bytearray()
    write({"a": 2**40}, out)
    assert read(bytes(out), 0) == {"a": 2**40}


def test_full_events_round_trip() -> None:
    ev = make_event()
    assert decode_event(encode_event(ev)) == ev


def test_the_event_module_is_what_the_generator_makes_of_the_shipped_schema() -> None:
    """hub/event_avro.py (compiled by mypyc) is generated: after a change to the event schema
    or to the generator, `MOTCUA_NATIVE=off python -m hub.specialised` writes it again."""
    from hub import event_avro
    from hub.codec import _EVENT_READ, _EVENT_WRITE, EVENT_SCHEMA_FILE, load_schema
    from hub.specialised import EVENT_ENUMS, EVENT_MODULE, record_source

    made = record_source(load_schema(EVENT_SCHEMA_FILE), EVENT_ENUMS)
    assert EVENT_MODULE.read_text(encoding="utf-8") == made
    assert _EVENT_WRITE is event_avro.write and _EVENT_READ is event_avro.read
