"""Avro codec for alerts and dossier events, in Avro single-object encoding.

Every value is framed as the Avro specification's *single-object encoding* (alerts.md):

    C3 01 | CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form (8 bytes, LE)
          | Avro binary body

The writer schemas are `schemas/alert.avsc` and `schemas/dossier_event.avsc`. In a wheel they are
shipped as `hub/_schemas` (pyproject force-include); in a source tree or an editable install they
are read from the `schemas/` folder next to the `hub` package.

Times: the alert schema uses timestamp-millis (sub-millisecond digits are truncated), the event
schema timestamp-micros (exact). Decoded times are timezone-aware UTC datetimes: the same instant
as the encoded one, not necessarily the same UTC offset.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from io import BytesIO
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form
from pydantic import BaseModel, ValidationError

from hub import event_avro
from hub.domain.alerts import Alert
from hub.domain.events import DossierEvent
from hub.native import SOURCE_ROOT
from hub.specialised import EVENT_ENUMS, Reader, Unhandled, Writer, compile_record

__all__ = [
    "ALERT_SCHEMA_FILE",
    "EVENT_SCHEMA_FILE",
    "MAGIC",
    "CodecError",
    "SchemaCodec",
    "alert_codec",
    "decode_alert",
    "decode_event",
    "encode_alert",
    "encode_event",
    "event_codec",
    "load_schema",
    "schema_fingerprint",
]

MAGIC: Final = b"\xc3\x01"
"""The two marker bytes of Avro single-object encoding."""

HEADER_LEN: Final = len(MAGIC) + 8

ALERT_SCHEMA_FILE: Final = "alert.avsc"
EVENT_SCHEMA_FILE: Final = "dossier_event.avsc"


class CodecError(ValueError):
    """Bytes that are not a single-object-encoded value of the expected writer schema."""


def _schema_text(name: str) -> str:
    """The text of a shipped schema: `hub/_schemas/<name>` in a wheel, else `schemas/<name>`."""
    packaged = files("hub").joinpath("_schemas", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (SOURCE_ROOT / "schemas" / name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The JSON of a shipped schema file (e.g. `alert.avsc`), unparsed."""
    schema: dict[str, Any] = json.loads(_schema_text(name))
    return schema


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, little-endian.

    fastavro returns it as the hex of the little-endian bytes, which is what the single-object
    header carries (the byte order of the Java reference implementation).
    """
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


class SchemaCodec:
    """Single-object encoding of dicts with one writer schema; parsed and framed once."""

    __slots__ = ("_parsed", "fingerprint", "header", "name")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.name: str = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
        self.fingerprint: bytes = schema_fingerprint(schema)
        self.header: bytes = MAGIC + self.fingerprint
        self._parsed = parse_schema(schema)

    def encode(self, record: Any) -> bytes:
        """Header plus Avro binary body of `record` (a mapping with the schema's field names)."""
        buf = BytesIO()
        buf.write(self.header)
        schemaless_writer(buf, self._parsed, record)
        return buf.getvalue()

    def check_header(self, data: bytes) -> None:
        """Raise CodecError unless `data` starts with this schema's single-object header."""
        if data[:HEADER_LEN] == self.header:
            return
        if len(data) < HEADER_LEN:
            raise CodecError(
                f"{self.name}: {len(data)} bytes, too short for a single-object header"
            )
        if data[:2] != MAGIC:
            raise CodecError(
                f"{self.name}: not Avro single-object encoding "
                f"(starts with {data[:2].hex()}, expected {MAGIC.hex()})"
            )
        raise CodecError(
            f"{self.name}: written with an unknown schema "
            f"(fingerprint {data[2:HEADER_LEN].hex()}, expected {self.fingerprint.hex()})"
        )

    def decode(self, data: bytes) -> dict[str, Any]:
        """The record in `data`, after checking the magic and the writer-schema fingerprint."""
        self.check_header(data)
        buf = BytesIO(data)
        buf.seek(HEADER_LEN)
        try:
            record = schemaless_reader(buf, self._parsed, None)
        except (EOFError, ValueError, IndexError, UnicodeDecodeError, OverflowError) as exc:
            # OverflowError: a timestamp outside years 1-9999
            raise CodecError(f"{self.name}: corrupt Avro body: {exc}") from exc
        if buf.tell() != len(data):
            raise CodecError(
                f"{self.name}: {len(data) - buf.tell()} trailing bytes after the Avro body"
            )
        if not isinstance(record, dict):  # pragma: no cover - a record schema yields a dict
            raise CodecError(f"{self.name}: decoded a {type(record).__name__}, not a record")
        return record


@cache
def alert_codec() -> SchemaCodec:
    """The codec of `schemas/alert.avsc`."""
    return SchemaCodec(load_schema(ALERT_SCHEMA_FILE))


@cache
def event_codec() -> SchemaCodec:
    """The codec of `schemas/dossier_event.avsc`."""
    return SchemaCodec(load_schema(EVENT_SCHEMA_FILE))


# Built at import so the hot path does no lookups and a broken schema fails at start-up.
_ALERT: Final = alert_codec()
_EVENT: Final = event_codec()
# The event's body, written and read by code specialised to its schema (hub/specialised.py): a
# third of fastavro's time, on every event the hub moves; whatever it does not cover is left to
# fastavro, so bytes, values and errors stay fastavro's.
# hub/event_avro.py is that code for the shipped schema, written out so that mypyc compiles it
# (hub/native.py); made afresh here if the schema is no longer the one it was made from.
_EVENT_SCHEMA: Final = load_schema(EVENT_SCHEMA_FILE)
_EVENT_WRITE: Writer
_EVENT_READ: Reader
if json.dumps(_EVENT_SCHEMA, sort_keys=True) == event_avro.SCHEMA:
    _EVENT_WRITE, _EVENT_READ = event_avro.write, event_avro.read
else:  # pragma: no cover - a test keeps event_avro.py current
    _EVENT_WRITE, _EVENT_READ = compile_record(_EVENT_SCHEMA, EVENT_ENUMS)
_EVENT_FIELDS: Final = tuple(DossierEvent.model_fields)
# A body read by the specialised code holds exactly what validation would give (each value is
# of its field's type, times are aware), so it becomes an event without validating it again,
# as long as the schema's fields are the model's, in its order.
_TRUSTED_READ: Final = tuple(f["name"] for f in _EVENT_SCHEMA["fields"]) == _EVENT_FIELDS
_set = object.__setattr__


def _fields(model: BaseModel) -> dict[str, Any]:
    # A pydantic v2 model keeps its field values, and only those (no extras: the models ignore
    # or forbid them; private attributes live elsewhere), in its instance __dict__. fastavro
    # reads it by field name and takes StrEnum members as their symbols, so no copy and no
    # model_dump is needed.
    fields: dict[str, Any] = model.__dict__
    return fields


def encode_alert(alert: Alert) -> bytes:
    """The alert as single-object-encoded Avro (`vn.motcua.hub.Alert`)."""
    return _ALERT.encode(_fields(alert))


def decode_alert(data: bytes) -> Alert:
    """The alert in single-object-encoded `data`; CodecError if it is not one."""
    record = _ALERT.decode(data)
    try:
        return Alert.model_validate(record)
    except ValidationError as exc:
        raise CodecError(f"{_ALERT.name}: decoded record does not validate: {exc}") from exc


def encode_event(ev: DossierEvent) -> bytes:
    """The event as single-object-encoded Avro (`vn.motcua.hub.DossierEvent`)."""
    fields = _fields(ev)
    out = bytearray(_EVENT.header)
    try:
        _EVENT_WRITE(fields, out)
    except Exception:  # Unhandled, or a value of another type: fastavro's bytes or its error
        return _EVENT.encode(fields)
    return bytes(out)


def _trusted_event(fields: dict[str, Any]) -> DossierEvent:
    # what model_construct does, without its per-field defaults pass: every field is here
    ev = object.__new__(DossierEvent)
    _set(ev, "__dict__", fields)
    _set(ev, "__pydantic_fields_set__", set(_EVENT_FIELDS))
    _set(ev, "__pydantic_extra__", None)
    _set(ev, "__pydantic_private__", None)
    return ev


def decode_event(data: bytes) -> DossierEvent:
    """The event in single-object-encoded `data`; CodecError if it is not one."""
    if _TRUSTED_READ and data[:HEADER_LEN] == _EVENT.header:
        try:
            return _trusted_event(_EVENT_READ(data, HEADER_LEN))
        except Unhandled:
            pass  # fastavro reads it, or says what is wrong with it
    record = _EVENT.decode(data)
    try:
        return DossierEvent.model_validate(record)
    except ValidationError as exc:
        raise CodecError(f"{_EVENT.name}: decoded record does not validate: {exc}") from exc
