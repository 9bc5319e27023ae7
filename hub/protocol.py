"""The record protocol of the hub's own topics: one home for every kind, header and key.

    hub.dossier.events   key: dossier code (b"" for clock records)
                         header motcua.kind = event | claim | withdraw | clock
                         header motcua.in   = wall time (s) the message entered the hub (events)
                         value: Avro event (hub/codec.py) | claim JSON | withdraw JSON | clock JSON
    judge table          key: dossier code -> DossierState; CLOCK key per partition -> watermark
    hub.dossier.summary  key: dossier code -> Summary JSON; CLOCK key per partition -> "now" in ms
    hub.deadletter       key and value: the inbound record as read; motcua.error.* and
                         motcua.source.* headers say why and where from

Every producer and consumer of those topics goes through the functions here. Parsing is strict:
a record that another program (or a bug) put on an internal topic raises `ProtocolError`, which
the reader counts and skips; it never stops a worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.events import Source
from hub.errors import DeadLetterError

KIND_HEADER = "motcua.kind"
ENTERED_HEADER = "motcua.in"

KIND_EVENT = b"event"
KIND_CLAIM = b"claim"
KIND_WITHDRAW = b"withdraw"
KIND_CLOCK = b"clock"
KINDS = frozenset({KIND_EVENT, KIND_CLAIM, KIND_WITHDRAW, KIND_CLOCK})

# A key no dossier code can have (codes are printable), for a partition's clock entry in the
# judge's table and on the summary topic.
CLOCK_PREFIX = b"\x00clock/"

Headers = list[tuple[str, bytes]]
_SOURCES = frozenset(s.value for s in Source)


class ProtocolError(DeadLetterError):
    """A record on an internal topic that does not follow this protocol."""

    def __init__(self, message: str) -> None:
        super().__init__("INTERNAL", message)


# -- keys ---------------------------------------------------------------------------------------
def clock_key(partition: int) -> bytes:
    return CLOCK_PREFIX + str(partition).encode()


def clock_partition(key: bytes) -> int | None:
    """The partition of a clock key; None for any other key."""
    if not key.startswith(CLOCK_PREFIX):
        return None
    digits = key[len(CLOCK_PREFIX) :]
    if not digits.isdigit() or len(digits) > 6:
        raise ProtocolError(f"bad clock key {key[:40]!r}")
    return int(digits)


def is_internal_key(key: bytes) -> bool:
    """Keys of the hub's own entries (clock records), not dossiers."""
    return key.startswith(b"\x00")


# -- headers of hub.dossier.events --------------------------------------------------------------
def kind_of(headers: Any) -> bytes:
    """The record kind from a record's headers; a record without one is an event."""
    for name, value in headers or ():
        if name == KIND_HEADER:
            kind = bytes(value)
            if kind not in KINDS:
                raise ProtocolError(f"unknown record kind {kind[:20]!r}")
            return kind
    return KIND_EVENT


def header(headers: Any, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return bytes(value)
    return None


def event_headers(entered: bytes) -> Headers:
    """An event's headers; `entered` is `entered_stamp()` of the batch it came in."""
    return [(KIND_HEADER, KIND_EVENT), (ENTERED_HEADER, entered)]


def entered_stamp(wall_s: float) -> bytes:
    return repr(wall_s).encode()


def entered_at(headers: Any) -> float | None:
    stamp = header(headers, ENTERED_HEADER)
    if stamp is None:
        return None
    try:
        return float(stamp)
    except ValueError:
        return None


def kind_headers(kind: bytes) -> Headers:
    return [(KIND_HEADER, kind)]


# -- claims and withdrawals ----------------------------------------------------------------------
def encode_claim(code: str) -> bytes:
    return json.dumps({"code": code}).encode()


def parse_claim(payload: bytes) -> str:
    data = _json(payload, "claim")
    code = data.get("code") if isinstance(data, dict) else None
    if not isinstance(code, str) or not code:
        raise ProtocolError("a claim names no dossier code")
    dossier_key(code.encode("utf-8", "replace"))  # the checks a dossier's key passes
    if code.encode("utf-8", "replace").decode() != code:  # a lone surrogate: no key at all
        raise ProtocolError("a claim's code is not text")
    return code


MAX_KEY_BYTES = 300  # a dossier code or `<source>:<id>`, with room: ids are at most 200


def dossier_key(key: bytes | None) -> str:
    """The dossier a record is keyed by, as text; ProtocolError for a key no dossier has (none,
    not UTF-8, an internal key of the hub's own entries, too long)."""
    if not key:
        raise ProtocolError("a dossier record without a key")
    if is_internal_key(key) or len(key) > MAX_KEY_BYTES:
        raise ProtocolError(f"a dossier record under the key {key[:40]!r}")
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"a dossier key that is not UTF-8: {key[:40]!r}") from exc


def encode_withdraw(events: Iterable[tuple[str, str]]) -> bytes:
    """The events a claimed dossier moved away, as [source, id] pairs (an id alone is not an
    event's identity: two systems may use the same id)."""
    return json.dumps(sorted([source, event_id] for source, event_id in events)).encode()


def parse_withdraw(payload: bytes) -> set[tuple[str | None, str]]:
    """(source, id) of each withdrawn event. A withdrawal written before sources were sent is a
    list of ids: each comes back with source None, to be taken from any source as it was."""
    data = _json(payload, "withdrawal")
    if not isinstance(data, list):
        raise ProtocolError("a withdrawal is not a list of events")
    out: set[tuple[str | None, str]] = set()
    for item in data:
        if isinstance(item, str):
            out.add((None, item))
        elif (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and item[0] in _SOURCES
            and isinstance(item[1], str)
        ):
            out.add((item[0], item[1]))
        else:
            raise ProtocolError("a withdrawal names an event by neither [source, id] nor id")
    return out


# -- clock records ------------------------------------------------------------------------------
Marks = dict[str, list[int | bool | None]]


@dataclass(frozen=True)
class ClockRecord:
    """What one worker reports on each tick: its wall clock, how many inbound partitions exist,
    and [highest event time, idle, waiting] of each inbound partition it reads."""

    wall_ms: int
    expect: int
    marks: Marks


def encode_clock(record: ClockRecord) -> bytes:
    data = {"wall": record.wall_ms, "expect": record.expect, "marks": record.marks}
    return json.dumps(data).encode()


def parse_clock(payload: bytes) -> ClockRecord:
    data = _json(payload, "clock record")
    if not isinstance(data, dict):
        raise ProtocolError("a clock record is not an object")
    wall, expect, marks = data.get("wall"), data.get("expect", 0), data.get("marks", {})
    if not isinstance(wall, int) or not is_int(expect) or not isinstance(marks, dict):
        raise ProtocolError("a clock record needs integer wall and expect, and marks")
    return ClockRecord(wall, expect, marks)


# -- summary topic ------------------------------------------------------------------------------
def encode_summary_clock(now_ms: int) -> bytes:
    return str(now_ms).encode()


def parse_summary_clock(value: bytes) -> int:
    text = value.decode("ascii", "replace")
    if not text.isdigit() or len(text) > 16:
        raise ProtocolError(f"bad clock value on the summary topic {value[:40]!r}")
    return int(text)


# -- workers: who judges which partition (for routing a trace to its owner) --------------------
WORKER_PREFIX = b"\x00worker/"


@dataclass(frozen=True)
class WorkerEntry:
    url: str  # where its web port answers
    partitions: frozenset[int]  # of hub.dossier.events, judged there
    at_ms: int  # when it said so (its clock)


def worker_key(instance: str) -> bytes:
    return WORKER_PREFIX + instance.encode()


def encode_worker(url: str, partitions: list[int], at_ms: int) -> bytes:
    return json.dumps({"url": url, "partitions": partitions, "at": at_ms}).encode()


def parse_worker(value: bytes) -> WorkerEntry:
    data = _json(value, "worker entry")
    if not isinstance(data, dict):
        raise ProtocolError("a worker entry is not an object")
    url, parts, at = data.get("url"), data.get("partitions"), data.get("at")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 500:
        raise ProtocolError("a worker entry without an http(s) url")
    if not isinstance(parts, list) or not all(is_int(p) and 0 <= p < 100_000 for p in parts):
        raise ProtocolError("a worker entry's partitions are not a list of partition numbers")
    if not isinstance(at, int) or isinstance(at, bool):
        raise ProtocolError("a worker entry without its time")
    return WorkerEntry(url, frozenset(parts), at)


# -- dead letters -------------------------------------------------------------------------------
REASON_HEADER = "motcua.error.reason"
MESSAGE_HEADER = "motcua.error.message"
ITEM_HEADER = "motcua.error.item"
TOPIC_HEADER = "motcua.source.topic"
PARTITION_HEADER = "motcua.source.partition"
OFFSET_HEADER = "motcua.source.offset"
CONNECTOR_HEADER = "motcua.connector"
FAILED_AT_HEADER = "motcua.failed_at"
# One message's bad items past its dead-letter budget (MOTCUA_DEADLETTER_BYTES_FACTOR) share its
# last record: "index:REASON" of each, comma-separated, the first 100 then "+<how many more>".
FOLDED_HEADER = "motcua.error.folded"
# A dead letter the broker refused as too large is sent again cut to fit: the original value's
# length and sha256 (hex), and the original key's length when the key had to be cut too.
VALUE_TRUNCATED_HEADER = "motcua.error.value_truncated"
VALUE_SHA256_HEADER = "motcua.error.value_sha256"
KEY_TRUNCATED_HEADER = "motcua.error.key_truncated"


@dataclass(frozen=True)
class DeadLetterInfo:
    """Why a record was dead-lettered and where it came from (the headers of hub.deadletter)."""

    reason: str
    message: str
    topic: str
    partition: int
    offset: int
    connector: str
    failed_at: datetime
    item: int | None = None


def dead_letter_headers(info: DeadLetterInfo) -> Headers:
    headers = [
        (REASON_HEADER, info.reason.encode()),
        (MESSAGE_HEADER, info.message.encode()),
        (TOPIC_HEADER, info.topic.encode()),
        (PARTITION_HEADER, str(info.partition).encode()),
        (OFFSET_HEADER, str(info.offset).encode()),
        (CONNECTOR_HEADER, info.connector.encode()),
        (FAILED_AT_HEADER, info.failed_at.isoformat().encode()),
    ]
    if info.item is not None:
        headers.append((ITEM_HEADER, str(info.item).encode()))
    return headers


def parse_dead_letter_headers(headers: Any) -> DeadLetterInfo:
    found = {name: bytes(value).decode() for name, value in headers or ()}
    try:
        item = found.get(ITEM_HEADER)
        return DeadLetterInfo(
            reason=found[REASON_HEADER],
            message=found[MESSAGE_HEADER],
            topic=found[TOPIC_HEADER],
            partition=int(found[PARTITION_HEADER]),
            offset=int(found[OFFSET_HEADER]),
            connector=found[CONNECTOR_HEADER],
            failed_at=datetime.fromisoformat(found[FAILED_AT_HEADER]),
            item=None if item is None else int(item),
        )
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"not a dead letter's headers: {exc!r}") from exc


# -- helpers ------------------------------------------------------------------------------------
def _json(payload: bytes, what: str) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"{what} is not JSON") from exc


def is_int(value: object) -> bool:
    """A JSON integer as parsed: an int, and not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)
