"""Avro binary for one record schema, specialised: what fastavro writes and reads, faster.

fastavro interprets the parsed schema at every call: for the dossier event's 32 fields that is
about 15 µs to write and 12 µs to read (then pydantic validates the dict again, 3.5 µs), and the
hub writes every event once and reads it at least once (bench/README.md, issue 11). Here the
record's fields become straight-line Python once, at import (`compile_record`), for the few
types the event schema uses: string, boolean, int, long, enum, timestamp-micros, and unions of
null with one of those.

Exactness: the fast path covers only what it can write or read exactly as fastavro does. Any
value outside it (a string that is not UTF-8-encodable, an int outside its Avro range, an
unknown enum symbol, bytes that end early or run on) raises `Unhandled`, and the caller (see
hub/codec.py) runs fastavro instead, so results and errors are fastavro's own. The tests check
byte for byte against fastavro (tests/unit/test_specialised_codec.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.native import SOURCE_ROOT

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # fastavro's epoch for timestamp-micros
_ONE_BYTE = [bytes([n]) for n in range(128)]
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


class Unhandled(Exception):
    """A value or input the specialised code does not cover: use fastavro for it."""


def _varint(n: int) -> bytes:
    """A zigzag-encoded long (n already range-checked)."""
    z = (n << 1) ^ (n >> 63)
    if z < 128:
        return _ONE_BYTE[z]
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The zigzag long at pos, and the position after it (at most 10 bytes, as fastavro)."""
    z = 0
    shift = 0
    end = len(data)
    while True:
        if pos >= end or shift > 63:
            raise Unhandled
        b = data[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        if b < 0x80:
            if z >> 64:  # past 64 bits, where fastavro's C reader wraps around
                raise Unhandled
            return (z >> 1) ^ -(z & 1), pos
        shift += 7


def _micros(t: datetime) -> int:
    if t.tzinfo is None:  # fastavro reads a naive time as local time: not ours to imitate
        raise Unhandled
    d = t - EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _from_micros(n: int) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=n)
    except OverflowError as exc:
        raise Unhandled from exc


def _kind(ftype: Any) -> tuple[str, bool, Any]:
    """(kind, nullable, enum symbols) of a field type; Unhandled for any other."""
    nullable = False
    if isinstance(ftype, list):
        if len(ftype) != 2 or ftype[0] != "null":
            raise Unhandled(f"union {ftype}")
        nullable, ftype = True, ftype[1]
    if isinstance(ftype, dict):
        if ftype.get("type") == "enum":
            return "enum", nullable, list(ftype["symbols"])
        if ftype.get("type") == "long" and ftype.get("logicalType") == "timestamp-micros":
            return "micros", nullable, None
        raise Unhandled(f"type {ftype}")
    if ftype in ("string", "boolean", "int", "long"):
        return str(ftype), nullable, None
    raise Unhandled(f"type {ftype}")


_WRITE = {
    # value v -> appended to `out` (a bytearray); raise Unhandled where fastavro would differ
    # a length under 64 is one byte, its zigzag form 2n: most strings here are that short
    "string": "b = v.encode(); n = len(b)\n"
    "if n < 64: out.append(n << 1)\n"
    "else: out += _varint(n)\n"
    "out += b",
    "boolean": "if v.__class__ is not bool: raise Unhandled\nout += b'\\x01' if v else b'\\x00'",
    "int": "if v.__class__ is not int or not {imin} <= v <= {imax}: raise Unhandled\n"
    "out += _varint(v)",
    "long": "if v.__class__ is not int or not {lmin} <= v <= {lmax}: raise Unhandled\n"
    "out += _varint(v)",
    "enum": "out += _varint({index}[v])",
    "micros": "out += _varint(_micros(v))",
}

# the inline path for a one-byte zigzag long; longer ones go through _read_varint
_READ_LONG = (
    "b = data[pos]\n"
    "if b < 0x80:\n"
    "    n = (b >> 1) ^ -(b & 1); pos += 1\n"
    "else:\n"
    "    n, pos = _read_varint(data, pos)"
)
_READ = {
    "string": _READ_LONG + "\nif n < 0 or pos + n > end: raise Unhandled\n"
    "v = data[pos:pos + n].decode(); pos += n",
    "boolean": "b = data[pos]; pos += 1\nif b > 1: raise Unhandled\nv = b == 1",
    "int": _READ_LONG + "\nif not {imin} <= n <= {imax}: raise Unhandled\nv = n",
    "long": _READ_LONG + "\nv = n",
    "enum": _READ_LONG + "\nif not 0 <= n < {count}: raise Unhandled\nv = {members}[n]",
    "micros": _READ_LONG + "\nv = _from_micros(n)",
}


def _indent(code: str, by: str) -> str:
    return "\n".join(by + line for line in code.split("\n"))


Writer = Callable[[dict[str, Any], bytearray], None]
Reader = Callable[[bytes, int], dict[str, Any]]


def record_source(schema: dict[str, Any], enums: dict[str, str] | None = None) -> str:
    """The (write, read) functions of a record schema, as the text of a typed module.

    `enums` maps an enum's name to the dotted path of what its symbols become when read (a
    StrEnum, say; default: the symbol itself, as fastavro); the module imports it. The hub's
    own event schema is written out as hub/event_avro.py, which mypyc compiles (hub/native.py).
    Raises Unhandled for a schema with a type this does not cover."""
    if schema.get("type") != "record":
        raise Unhandled("not a record")
    enums = enums or {}
    imports: set[str] = set()
    tables: list[str] = []
    writes, reads, names = [], [], []
    for i, field in enumerate(schema["fields"]):
        name = field["name"]
        kind, nullable, symbols = _kind(field["type"])
        fmt: dict[str, Any] = {
            "imin": _INT_MIN,
            "imax": _INT_MAX,
            "lmin": _LONG_MIN,
            "lmax": _LONG_MAX,
        }
        if symbols is not None:
            ftype = field["type"][1] if nullable else field["type"]
            short = str(ftype["name"]).rsplit(".", 1)[-1]
            make = "str"
            if short in enums:
                module, _, make = enums[short].rpartition(".")
                imports.add(f"from {module} import {make}")
            index = ", ".join(f"{s!r}: {k}" for k, s in enumerate(symbols))
            tables.append(f"_index{i}: dict[str, int] = {{{index}}}")
            members = f"tuple({make}(s) for s in {tuple(symbols)!r})"
            tables.append(f"_members{i}: tuple[Any, ...] = {members}")
            fmt.update(index=f"_index{i}", members=f"_members{i}", count=len(symbols))
        write = _WRITE[kind].format(**fmt)
        read = _READ[kind].format(**fmt)
        if nullable:
            # fastavro writes None as branch 0 and any other value as branch 1 here
            write = "if v is None:\n    out += b'\\x00'\nelse:\n    out += b'\\x02'\n" + _indent(
                write, "    "
            )
            read = (
                "b = data[pos]; pos += 1\n"
                "if b == 0:\n    v = None\nelif b == 2:\n"
                + _indent(read, "    ")
                + "\nelse:\n    raise Unhandled"
            )
        writes.append(f"v = fields[{name!r}]\n{write}")
        reads.append(f"{read}\nf{i} = v")
        names.append(name)
    result = ", ".join(f"{name!r}: f{i}" for i, name in enumerate(names))
    header = [
        f'"""Avro binary of the record {schema.get("name")}, generated by hub/specialised.py',
        "`record_source` from its schema: not to be edited (a test checks it is what the generator",
        "makes of the shipped schema; `MOTCUA_NATIVE=off python -m hub.specialised` writes it",
        'again: run as a script, the module is its source, not its compiled build)."""',
        "",
        "# ruff: noqa",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        *sorted(imports),
        "from hub.specialised import Unhandled, _from_micros, _micros, _read_varint, _varint",
        "",
        f"SCHEMA: str = {json.dumps(schema, sort_keys=True)!r}  # what this was made from",
        *tables,
    ]
    return (
        "\n".join(header)
        + "\n\n\ndef write(fields: dict[str, Any], out: bytearray) -> None:\n"
        + "    v: Any\n    b: bytes\n    n: int\n"
        + _indent("\n".join(writes), "    ")
        + "\n\n\ndef read(data: bytes, pos: int) -> dict[str, Any]:\n"
        + "    end = len(data)\n    v: Any\n    b: int\n    n: int\n"
        + "    try:\n"
        + _indent("\n".join(reads), "        ")
        + "\n    except (IndexError, UnicodeDecodeError) as exc:\n"
        + "        raise Unhandled from exc\n"
        + "    if pos != end:\n        raise Unhandled\n"
        + f"    return {{{result}}}\n"
    )


def compile_record(
    schema: dict[str, Any], enums: dict[str, str] | None = None
) -> tuple[Writer, Reader]:
    """(write, read) for a record schema (parsed or not) of the supported types, made at run
    time from `record_source` (same arguments).

    `write(fields, out)` appends the body of the record whose field values are in `fields`;
    `read(data, pos)` returns the field values of the body at `pos`, which must end `data`
    (so extra bytes are Unhandled too). Raises Unhandled for a schema with any other type."""
    space: dict[str, Any] = {}
    # the code is made from a schema shipped with the hub, never from input
    exec(compile(record_source(schema, enums), f"<avro {schema.get('name')}>", "exec"), space)
    return space["write"], space["read"]


EVENT_MODULE = SOURCE_ROOT / "hub" / "event_avro.py"
EVENT_ENUMS = {
    "Source": "hub.domain.events.Source",
    "EventKind": "hub.domain.events.EventKind",
    "CivilStatus": "hub.domain.events.CivilStatus",
}


if __name__ == "__main__":  # writes hub/event_avro.py from the shipped event schema
    schema_file = SOURCE_ROOT / "schemas" / "dossier_event.avsc"
    schema_text = json.loads(schema_file.read_text(encoding="utf-8"))
    EVENT_MODULE.write_text(record_source(schema_text, EVENT_ENUMS), encoding="utf-8")
    print(f"wrote {EVENT_MODULE}")
