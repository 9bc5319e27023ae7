"""Stage 1's pieces: decoding a message, its dead letter, and the marks of what was read.

`hub/stream/intake.py` runs them in its loop. The marks (highest event time, last delivery, how
far each inbound partition is read) go, with the wall time, to every partition of
hub.dossier.events in clock records: that is how the watermark crosses the re-keying.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors import SOURCE_OF_TOPIC, SOURCES, Context, Decoded, Reason, Rejection
from hub.domain.calendar import WorkingCalendar
from hub.metrics import HubMetrics
from hub.protocol import ClockRecord, DeadLetterInfo, dead_letter_headers, encode_clock
from hub.settings import Settings
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


def dead_letter(
    rejection: Rejection,
    *,
    key: bytes | None,
    value: bytes,
    topic: str,
    partition: int,
    offset: int,
    connector: str,
    failed_at: datetime,
) -> DeadLetter:
    info = DeadLetterInfo(
        reason=rejection.reason.value,
        message=rejection.message,
        topic=topic,
        partition=partition,
        offset=offset,
        connector=connector,
        failed_at=failed_at,
        item=rejection.item,
    )
    return DeadLetter(key, value, dead_letter_headers(info))


def decode(
    settings: Settings,
    calendar: WorkingCalendar,
    topic: str,
    partition: int,
    offset: int,
    raw: bytes,
) -> tuple[str, Decoded]:
    spec = SOURCES[SOURCE_OF_TOPIC[topic]]
    name = spec.name
    ctx = Context(
        calendar=calendar,
        topic=topic,
        partition=partition,
        offset=offset,
        max_message_bytes=settings.max_message_bytes,
        land_security_code=settings.land_security_code,
    )
    try:
        return name, spec.decode(raw, ctx)
    except Exception as exc:  # a connector bug must not stop the hub: dead-letter and count
        log.exception("connector %s failed on %s[%d]@%d", name, topic, partition, offset)
        return name, Decoded(rejections=[Rejection(Reason.INTERNAL, f"connector failed: {exc!r}")])


def count(metrics: HubMetrics, source: str, decoded: Decoded) -> None:
    metrics.messages.labels(source).inc()
    if decoded.events:
        metrics.events.labels(source).inc(len(decoded.events))
    if decoded.informational:
        metrics.informational.labels(source).inc(decoded.informational)
    for rej in decoded.rejections:
        metrics.deadletters.labels(source, rej.reason.value).inc()
