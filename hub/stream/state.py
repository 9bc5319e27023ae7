"""A dossier's stored state: its events (as the Avro bytes they travelled in) and its alerts.

Stored as one table value per dossier. The events are kept as received, so appending one costs
no re-encoding; they are decoded only when a dossier is not in the worker's cache. The value is
zlib-compressed (level 1): the events of one dossier repeat its code, units and names, so it
shrinks to about 40 %, and the table is what a worker holds per dossier. Written with zstd
(level 1, one reused context): the same size as zlib level 1 at a quarter of the time (about 7
against 28 µs for a 2.5 KB state, bench at the top of bench/README.md), on the hot path of every
judged message. Values written before (zlib, with or without the clear prefix) stay readable.

A dossier holds at most `MOTCUA_MAX_EVENTS_PER_DOSSIER` events and `MOTCUA_MAX_DOSSIER_BYTES` of
event bytes (`Bounds`): one more is refused with `DossierFull` and the state is left as it was,
so a hostile or broken feed can neither make a value larger than a Kafka record nor make judging
one dossier take the worker's time. Redeliveries of what it holds remain duplicates, full or not.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections import OrderedDict
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import zstandard

from hub.codec import decode_event
from hub.domain.engine import Emitted, Judged
from hub.domain.events import DossierEvent
from hub.errors import DeadLetterError
from hub.protocol import is_int
from hub.settings import Settings

_LEN = struct.Struct(">I")
_ZLIB = b"\x01"  # first byte of a compressed value; an uncompressed one starts with 0x00
_PEEKABLE = b"\x02"  # then partition and wake-up time in the clear, then the compressed value
_PREFIX = struct.Struct(">iq")  # partition, wake-up ms (-1: none)
_PEEKABLE_ZSTD = b"\x03"  # as _PEEKABLE, the value compressed with zstd (written since 12/2026)
# one context each, reused: making one per value would cost more than compressing
_COMPRESS = zstandard.ZstdCompressor(level=1).compress
_DECOMPRESS = zstandard.ZstdDecompressor().decompress
# what json.dumps(header, separators=(",", ":")) makes at each call, once
_HEADER = json.JSONEncoder(separators=(",", ":"))


def to_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000) if t.microsecond % 1000 == 0 else round(t.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class DossierFull(DeadLetterError):
    """An event a dossier cannot take (dead-lettered TOO_LARGE); the dossier is unchanged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("TOO_LARGE", message)
        self.code = code


@dataclass(frozen=True)
class Bounds:
    """How much one dossier may hold: events, and bytes of stored events (as received)."""

    max_events: int
    max_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Bounds:
        return cls(settings.max_events_per_dossier, settings.max_dossier_bytes)


def _plural(n: int) -> str:
    return f"{n} event" if n == 1 else f"{n} events"


@dataclass
class DossierState:
    partition: int
    blobs: list[bytes] = field(default_factory=list)
    events: list[DossierEvent] = field(default_factory=list)
    emitted: dict[str, Emitted] = field(default_factory=dict)
    next_wake_ms: int | None = None
    owner: str | None = (
        None  # a `<source>:<id>` dossier claimed by a one-stop code (its events go there)
    )
    # identity (source, id) -> the earliest event time held for it (None: a delivery without
    # one), so that `has` is one lookup, not a pass over the events; and the bytes held
    _held: dict[tuple[str, str], datetime | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _bytes: int = field(default=0, init=False, repr=False, compare=False)
    # the last evaluation's facts and timeline, kept while the state is cached (never stored):
    # a deadline's evaluation of the same events takes them as they are (hub/domain/engine.py)
    judged: Judged | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._reindex()

    def _reindex(self) -> None:
        self._held = {}
        for ev in self.events:
            self._hold(ev)
        self._bytes = sum(len(b) for b in self.blobs)

    def _hold(self, ev: DossierEvent) -> None:
        ident = ev.identity
        if ident not in self._held:
            self._held[ident] = ev.event_time
            return
        held = self._held[ident]
        if held is not None and (ev.event_time is None or ev.event_time < held):
            self._held[ident] = ev.event_time

    def copy(self) -> DossierState:
        """As deep as judging changes it (the lists, the emitted alerts, changed in place); the
        index is copied, not rebuilt: a copy is taken for every judged message."""
        # made field by field, not through __init__: its index rebuild and default factories
        # would be thrown away at once (the class's __new__, not object's: compiled with mypyc
        # the class has its own, and object.__new__ refuses it)
        twin = DossierState.__new__(DossierState)
        twin.partition = self.partition
        twin.next_wake_ms = self.next_wake_ms
        twin.owner = self.owner
        twin.blobs = list(self.blobs)
        twin.events = list(self.events)
        twin.emitted = {
            aid: Emitted(e.type, e.occurrence, e.raised_at, e.resolved_at, e.retracted)
            for aid, e in self.emitted.items()
        }
        twin._held = dict(self._held)
        twin._bytes = self._bytes
        twin.judged = self.judged
        return twin

    def has(self, ev: DossierEvent) -> bool:
        """A redelivery, or a later-timed delivery of an event already held, changes nothing:
        the facts take the earliest delivery of each identity (source and id)."""
        ident = ev.identity
        if ident not in self._held:
            return False
        held = self._held[ident]
        return held is None or ev.event_time is None or held <= ev.event_time

    def add(
        self, ev: DossierEvent, blob: bytes, bounds: Bounds | None = None, code: str = "?"
    ) -> None:
        """Hold `ev`, travelled as `blob`; past `bounds` raise DossierFull and change nothing.
        `code` names the dossier in the refusal."""
        if bounds is not None:
            held = f"dossier {code} holds {_plural(len(self.events))} ({self._bytes} bytes)"
            what = f"{ev.source.value} event {ev.event_id[:80]!r} ({len(blob)} bytes) refused"
            if len(self.events) >= bounds.max_events:
                raise DossierFull(
                    code,
                    f"{held}, the most MOTCUA_MAX_EVENTS_PER_DOSSIER={bounds.max_events} "
                    f"allows: {what}",
                )
            if self._bytes + len(blob) > bounds.max_bytes:
                raise DossierFull(
                    code,
                    f"{held}: one more would pass MOTCUA_MAX_DOSSIER_BYTES={bounds.max_bytes}: "
                    f"{what}",
                )
        self.events.append(ev)
        self.blobs.append(blob)
        self._hold(ev)
        self._bytes += len(blob)

    def remove(self, withdrawn: Set[tuple[str | None, str]]) -> None:
        """Drop the withdrawn events, given as (source, id); a None source (a withdrawal sent
        before withdrawals named sources) matches that id from any source."""
        kept = [
            (e, b)
            for e, b in zip(self.events, self.blobs, strict=True)
            if e.identity not in withdrawn and (None, e.event_id) not in withdrawn
        ]
        self.events = [e for e, _ in kept]
        self.blobs = [b for _, b in kept]
        self._reindex()

    def dumps(self) -> bytes:
        header = _HEADER.encode(
            {
                "p": self.partition,
                "w": self.next_wake_ms,
                "o": self.owner,
                "e": {
                    aid: [
                        e.type,
                        e.occurrence,
                        to_ms(e.raised_at),
                        None if e.resolved_at is None else to_ms(e.resolved_at),
                        e.retracted,
                    ]
                    for aid, e in self.emitted.items()
                },
            },
        ).encode()
        parts = [_LEN.pack(len(header)), header]
        for blob in self.blobs:
            parts += [_LEN.pack(len(blob)), blob]
        wake = -1 if self.next_wake_ms is None else self.next_wake_ms
        prefix = _PEEKABLE_ZSTD + _PREFIX.pack(self.partition, wake)
        return prefix + _COMPRESS(b"".join(parts))

    @classmethod
    def loads(cls, data: bytes) -> DossierState:
        data = _plain(data)
        (n,) = _LEN.unpack_from(data, 0)
        header = _checked(json.loads(data[4 : 4 + n]))
        pos = 4 + n
        blobs: list[bytes] = []
        while pos < len(data):
            (m,) = _LEN.unpack_from(data, pos)
            blobs.append(data[pos + 4 : pos + 4 + m])
            pos += 4 + m
        return cls(
            partition=int(header["p"]),
            blobs=blobs,
            events=[decode_event(b) for b in blobs],
            emitted={
                aid: Emitted(
                    t, occ, from_ms(raised), None if res is None else from_ms(res), bool(retracted)
                )
                for aid, (t, occ, raised, res, retracted) in header["e"].items()
            },
            next_wake_ms=header["w"],
            owner=header.get("o"),
        )


def _checked(header: Any) -> dict[str, Any]:
    """The header, if each value is of the type written; else ValueError: an unreadable state
    (the caller starts the dossier afresh), whether this module runs compiled, where a wrong
    type fails its cast, or not, where it would fail later, amid judging."""
    if not (
        isinstance(header, dict)
        and is_int(header.get("p"))
        and (header.get("w") is None or is_int(header["w"]))
        and isinstance(header.get("o"), str | None)
        and isinstance(header.get("e"), dict)
        and all(
            isinstance(aid, str)
            and isinstance(entry, list)
            and len(entry) == 5
            and isinstance(entry[0], str)
            and isinstance(entry[1], str)
            and is_int(entry[2])
            and (entry[3] is None or is_int(entry[3]))
            and isinstance(entry[4], bool)
            for aid, entry in header["e"].items()
        )
    ):
        raise ValueError("a stored state's header holds a value of another type than written")
    return header


class StateCache:
    """Decoded states of recently touched dossiers, so a busy dossier is not decoded per event."""

    def __init__(self, capacity: int = 5000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[bytes, DossierState] = OrderedDict()

    def get(self, key: bytes) -> DossierState | None:
        state = self._items.get(key)
        if state is not None:
            self._items.move_to_end(key)
        return state

    def put(self, key: bytes, state: DossierState) -> None:
        self._items[key] = state
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def drop(self, key: bytes) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


def peek(data: bytes) -> tuple[int, int | None]:
    """The partition and wake-up time of a stored state, without decoding its events."""
    if data[:1] in (_PEEKABLE, _PEEKABLE_ZSTD):
        partition, wake = _PREFIX.unpack_from(data, 1)
        return partition, None if wake < 0 else wake
    data = _plain(data)
    (n,) = _LEN.unpack_from(data, 0)
    header = json.loads(data[4 : 4 + n])
    return int(header["p"]), header["w"]


def _plain(data: bytes) -> bytes:
    if data[:1] == _PEEKABLE_ZSTD:
        return _decompress_zstd(data[1 + _PREFIX.size :])
    if data[:1] == _PEEKABLE:
        return zlib.decompress(data[1 + _PREFIX.size :])
    return zlib.decompress(data[1:]) if data[:1] == _ZLIB else data


def _decompress_zstd(frame: bytes) -> bytes:
    try:
        out: bytes = _DECOMPRESS(frame)
    except zstandard.ZstdError as exc:  # a corrupt value: what the callers handle for zlib's
        raise ValueError(f"corrupt zstd state: {exc}") from exc
    return out
