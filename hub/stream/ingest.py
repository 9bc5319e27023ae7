"""Stage 1's pieces: decoding a message, its dead letters, and the marks of what was read.

`hub/stream/intake.py` runs them in its loop. The marks (highest event time, last delivery, how
far each inbound partition is read) go, with the wall time, to every partition of
hub.dossier.events in clock records: that is how the watermark crosses the re-keying.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors import SOURCE_OF_TOPIC, SOURCES, Context, Decoded, Reason, Rejection
from hub.domain.calendar import WorkingCalendar
from hub.metrics import HubMetrics
from hub.protocol import (
    FOLDED_HEADER,
    KEY_TRUNCATED_HEADER,
    VALUE_SHA256_HEADER,
    VALUE_TRUNCATED_HEADER,
    ClockRecord,
    DeadLetterInfo,
    dead_letter_headers,
    encode_clock,
)
from hub.settings import Settings, secret
from hub.stream.clock import Clock
from hub.stream.state import to_ms

log = logging.getLogger(__name__)


@dataclass
class PartitionMark:
    high_ms: int | None = None
    last_delivery: float = field(default_factory=time.monotonic)
    next_offset: int | None = None  # after the last message read, valid or not


# (topic, partition) -> the offset the next produced message will get (None: not known yet)
Highwater = Callable[[str, int], int | None]
# (topic, partition) -> the next offset this worker will process (None: not known yet)
Position = Callable[[str, int], int | None]


@dataclass
class InboundMarks:
    """What this worker has read of each inbound partition it owns."""

    idle_timeout_s: float
    marks: dict[str, PartitionMark] = field(default_factory=dict)

    def delivered(self, topic: str, partition: int, offset: int, event_ms: int | None) -> None:
        mark = self.marks.setdefault(f"{topic}:{partition}", PartitionMark())
        mark.last_delivery = time.monotonic()
        mark.next_offset = offset + 1
        if event_ms is not None and (mark.high_ms is None or event_ms > mark.high_ms):
            mark.high_ms = event_ms

    def copy(self) -> InboundMarks:
        """Marks of their own, to move without moving these (a batch not yet committed)."""
        return InboundMarks(
            self.idle_timeout_s,
            {
                key: PartitionMark(m.high_ms, m.last_delivery, m.next_offset)
                for key, m in self.marks.items()
            },
        )

    def assigned(self, keys: set[str]) -> None:
        for gone in set(self.marks) - keys:
            del self.marks[gone]
        for key in keys:
            self.marks.setdefault(key, PartitionMark())

    def report(
        self, highwater: Highwater | None = None, position: Position | None = None
    ) -> dict[str, list[int | bool | None]]:
        """[high, idle, waiting] per partition.

        A partition with messages this worker has not read yet is never idle, however long ago
        it last delivered: those messages are simply not in yet (after a restart, or behind a
        busy partition), and letting the watermark pass them is what §6 exists to prevent. If it
        has never delivered a valid message, it is *waiting*.
        """
        now = time.monotonic()
        out: dict[str, list[int | bool | None]] = {}
        for key, m in self.marks.items():
            backlog = False
            if highwater is not None:
                topic, _, part = key.rpartition(":")
                end = highwater(topic, int(part))
                at = position(topic, int(part)) if position is not None else None
                if at is None:
                    at = m.next_offset
                backlog = end is None or end > (at or 0)
            idle = now - m.last_delivery >= self.idle_timeout_s and not backlog
            out[key] = [m.high_ms, idle, backlog and m.high_ms is None]
        return out


def clock_record(
    clock: Clock,
    marks: InboundMarks,
    expect: int = 0,
    highwater: Highwater | None = None,
    position: Position | None = None,
) -> bytes:
    return encode_clock(ClockRecord(to_ms(clock()), expect, marks.report(highwater, position)))


@dataclass(frozen=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


FOLDED_LISTED = 100  # items a folded record lists by index and reason; the rest are counted


def dead_letters(
    rejections: Sequence[Rejection],
    *,
    key: bytes | None,
    value: bytes,
    topic: str,
    partition: int,
    offset: int,
    connector: str,
    failed_at: datetime,
    factor: float,
) -> list[DeadLetter]:
    """One inbound message's dead letters: one per rejection (alerts.md), within a budget.

    Each record carries the whole message, so a message of many bad items would cost that many
    times its size (a 512 KB list of 100 000 bad items: 50 GB). The records of one message carry
    at most about `factor` (MOTCUA_DEADLETTER_BYTES_FACTOR) times its size in values: the first
    floor(factor) rejections each get their record, as the contract says (so one or two bad items
    are dead-lettered as ever), and the last record the budget allows also stands for every bad
    item after it: `motcua.error.item` is its first item, `motcua.error.folded` lists them all
    (`index:REASON`, the first FOLDED_LISTED, then `+<how many more>`), and the message says how
    many more it covers. The caller still counts every rejection in the metric.
    """
    whole = max(1, math.floor(factor))
    shown = [
        DeadLetterInfo(
            reason=rejection.reason.value,
            message=rejection.message,
            topic=topic,
            partition=partition,
            offset=offset,
            connector=connector,
            failed_at=failed_at,
            item=rejection.item,
        )
        for rejection in rejections[:whole]
    ]
    out = [DeadLetter(key, value, dead_letter_headers(info)) for info in shown]
    folded = rejections[whole - 1 :]
    if len(folded) > 1:
        more = len(folded) - 1
        first = shown[-1]
        info = DeadLetterInfo(
            reason=first.reason,
            message=f"{first.message} (and {more} more bad item{'s' if more > 1 else ''} of "
            f"this message, listed in {FOLDED_HEADER})",
            topic=topic,
            partition=partition,
            offset=offset,
            connector=connector,
            failed_at=failed_at,
            item=first.item,
        )
        listed = [f"{r.item}:{r.reason.value}" for r in folded[:FOLDED_LISTED]]
        if len(folded) > FOLDED_LISTED:
            listed.append(f"+{len(folded) - FOLDED_LISTED}")
        headers = dead_letter_headers(info)
        headers.append((FOLDED_HEADER, ",".join(listed).encode()))
        out[-1] = DeadLetter(key, value, headers)
    return out


def truncated(letter: DeadLetter, keep: int) -> DeadLetter:
    """`letter` with its value (and key) cut to `keep` bytes, for a dead letter the broker
    refused as too large: the headers say so, with the original value's length and sha256, so
    the record still says what it stood for."""
    headers = list(letter.headers)
    value = letter.value
    if len(value) > keep:
        headers.append((VALUE_TRUNCATED_HEADER, str(len(value)).encode()))
        headers.append((VALUE_SHA256_HEADER, hashlib.sha256(value).hexdigest().encode()))
        value = value[:keep]
    key = letter.key
    if key is not None and len(key) > keep:
        headers.append((KEY_TRUNCATED_HEADER, str(len(key)).encode()))
        key = key[:keep]
    return DeadLetter(key, value, headers)


def decode(
    settings: Settings,
    calendar: WorkingCalendar,
    topic: str,
    partition: int,
    offset: int,
    raw: bytes,
    now: datetime | None = None,
) -> tuple[str, Decoded]:
    """The source's connector on `raw`, with the settings' bounds; `now` is the intake's clock
    (None: no window of accepted times)."""
    spec = SOURCES[SOURCE_OF_TOPIC[topic]]
    name = spec.name
    ctx = Context(
        calendar=calendar,
        topic=topic,
        partition=partition,
        offset=offset,
        max_message_bytes=settings.max_message_bytes,
        land_security_code=secret(settings.land_security_code),
        max_items=settings.max_items_per_message,
        max_text_chars=settings.max_text_chars,
        now=now,
        max_event_age_days=settings.max_event_age_days,
        max_event_lead_s=settings.max_event_lead_s,
    )
    try:
        return name, spec.decode(raw, ctx)
    except Exception as exc:  # a connector bug must not stop the hub: dead-letter and count
        log.exception("connector %s failed on %s[%d]@%d", name, topic, partition, offset)
        return name, Decoded(rejections=[Rejection(Reason.INTERNAL, f"connector failed: {exc!r}")])


def count(metrics: HubMetrics, source: str, decoded: Decoded) -> None:
    tally = Tally()
    tally.add(source, decoded)
    tally.flush(metrics)


class Tally:
    """What a batch's messages add to the metrics, summed, so that each counter moves once a
    batch per source rather than once a message (a labelled child is a lookup under a lock)."""

    def __init__(self) -> None:
        self.messages: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.informational: Counter[str] = Counter()
        self.deadletters: Counter[tuple[str, str]] = Counter()

    def add(self, source: str, decoded: Decoded) -> None:
        self.messages[source] += 1
        if decoded.events:
            self.events[source] += len(decoded.events)
        if decoded.informational:
            self.informational[source] += decoded.informational
        for rej in decoded.rejections:  # by reason: a message may hold a thousand bad items
            self.deadletters[(source, rej.reason.value)] += 1

    def flush(self, metrics: HubMetrics) -> None:
        """Add what was counted to `metrics`, and start again from nothing."""
        for source, n in self.messages.items():
            metrics.messages.labels(source).inc(n)
        for source, n in self.events.items():
            metrics.events.labels(source).inc(n)
        for source, n in self.informational.items():
            metrics.informational.labels(source).inc(n)
        for (source, reason), n in self.deadletters.items():
            metrics.deadletters.labels(source, reason).inc(n)
        for counted in (self.messages, self.events, self.informational, self.deadletters):
            counted.clear()
