"""Stage 1 on plain aiokafka: agency messages -> common events on hub.dossier.events, exactly once.

Each worker runs one consumer (group `<app id>-intake`) and one transactional producer
(`<app id>-intake-<instance>`) in a loop that, per batch, in one transaction:

1. decodes every message (connectors/) and sends its events and dead letters;
2. adds the batch's input offsets to the transaction, and commits.

Only once it has committed do the partitions' marks move (so a clock record never reports an
event a read-committed judge cannot see yet). A crash anywhere leaves the transaction open and
its records invisible to read-committed readers; the restarted worker (same instance id) aborts
it and reads again from the committed offsets. A rebalance waits for the batch in hand.

A record the broker refuses as too large (its batch refused with MessageSizeTooLargeError, or
aiokafka refusing it at `send` over `max_request_size`) is handled for itself, since sending the
batch again would fail again forever: the records of its batch are sent again without it; a dead
letter is sent again cut to fit (headers give the original length and sha256); an event is
dead-lettered as INTERNAL. Any other produce error stops the batch (the broker away): the loop
restarts and re-reads. Records over the smallest max.message.bytes of the topics written are
refused as they are added (the producer's max_request_size is set to it at each start), so no
batch of a transaction is refused by the broker for its size.

The records go to the producer in whole batches per partition (hub/stream/outbound.py); a record
sent alone (above) goes through `send()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import (
    IllegalStateError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from connectors import Reason, Rejection
from hub.codec import encode_event
from hub.domain.calendar import WorkingCalendar
from hub.domain.events import DossierEvent
from hub.kafka_client import (
    restartable,
    stage_consumer_options,
    stop_consumer,
    transactional_producer_options,
)
from hub.metrics import HubMetrics
from hub.protocol import KIND_CLOCK, Headers, entered_stamp, event_headers, kind_headers
from hub.settings import ClockMode, Settings
from hub.stream import fencing
from hub.stream.batches import take_batch
from hub.stream.clock import Clock
from hub.stream.ingest import (
    DeadLetter,
    InboundMarks,
    Tally,
    clock_record,
    dead_letters,
    decode,
    truncated,
)
from hub.stream.outbound import Outbound, Slot
from hub.stream.state import to_ms
from hub.topics import DEADLETTER, DOSSIER_EVENTS, INBOUND_TOPICS, record_limit

log = logging.getLogger(__name__)
RESTART_AFTER_S = 5.0
# what the broker (or aiokafka, over max_request_size) answers for a record too large to take
SIZE_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError)


@dataclass
class _Out:
    """One record a batch sends, and what it stands for should it be refused as too large."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers
    msg: Any  # the inbound record it comes from
    source: str
    event: DossierEvent | None = None  # None: a dead letter
    sent: bool = True  # False once it is known it can never be sent

    @property
    def size(self) -> int:
        heads = sum(len(name) + len(value) for name, value in self.headers)
        return len(self.key or b"") + len(self.value) + heads


async def _send(outbound: Outbound, out: _Out) -> Slot | Exception:
    """Put one record in its batch: where it went, or the size error raised at once for a record
    over max_request_size (handled with those the broker answers for its batch)."""
    try:
        return await outbound.add(out.topic, out.value, out.key, out.headers)
    except SIZE_ERRORS as exc:
        error: Exception = exc
        return error


async def _outcomes(outbound: Outbound, sent: list[tuple[_Out, Slot | Exception]]) -> list[_Out]:
    """Hand the batches over and wait for every acknowledgement; the records refused as too
    large (a batch the broker refuses refuses each of its records). Any other error raises: the
    broker away, not a property of one record."""
    futures = [f for _, _, f in await outbound.flush()]
    if futures:
        await asyncio.gather(*futures, return_exceptions=True)
    refused = []
    for out, f in sent:
        err = f if isinstance(f, BaseException) else f.future.exception()
        if err is None:
            continue
        if not isinstance(err, SIZE_ERRORS):
            raise err
        refused.append(out)
    return refused


async def _send_alone(producer: AIOKafkaProducer, out: _Out) -> Exception | None:
    """Send one record and wait for it, so that it is a batch of its own: None once
    acknowledged, the size error if it is too large by itself; any other error raises."""
    try:
        future = await producer.send(out.topic, out.value, key=out.key, headers=out.headers)
        await future
    except SIZE_ERRORS as exc:
        error: Exception = exc
        return error
    return None


def _item_of(out: _Out) -> int | None:
    return out.event.item_index if out.event is not None else None


def _high(events: Iterable[_Out]) -> int | None:
    times = [to_ms(o.event.event_time) for o in events if o.event and o.event.event_time]
    return max(times) if times else None


def _deliver(marks: InboundMarks, read: Iterable[tuple[Any, list[_Out]]]) -> None:
    """Move `marks` by the inbound records read and their events; an event that never reached
    the log is no mark of what was read."""
    for msg, events in read:
        marks.delivered(msg.topic, msg.partition, msg.offset, _high(o for o in events if o.sent))


class Intake:
    """The inbound consumer of one worker and what it has read."""

    def __init__(
        self,
        settings: Settings,
        calendar: WorkingCalendar,
        clock: Clock,
        metrics: HubMetrics,
    ) -> None:
        self.settings = settings
        self.calendar = calendar
        self.clock = clock
        self.metrics = metrics
        # what this worker has read of its partitions: the clock records report it
        self.marks = InboundMarks(settings.idle_timeout_s)
        self.consumer: AIOKafkaConsumer | None = None
        # (topic, partition) -> the next offset to process, once everything before is sent
        self.positions: dict[tuple[str, int], int] = {}
        # the offsets and the records of the batch in its transaction, until it commits
        self._uncommitted: dict[TopicPartition, int] = {}
        self._read: list[tuple[Any, list[_Out]]] = []
        self._batch = asyncio.Lock()

    @property
    def group_id(self) -> str:
        return f"{self.settings.app_id}-intake"

    # -- what the clock records and /metrics read -----------------------------------------------
    def partition_count(self) -> int:
        """How many inbound partitions there are (0 while the metadata is not known)."""
        if self.consumer is None:
            return 0
        total = 0
        for topic in INBOUND_TOPICS.values():
            parts = self.consumer.partitions_for_topic(topic)
            if not parts:
                return 0
            total += len(parts)
        return total

    def highwater(self, topic: str, partition: int) -> int | None:
        if self.consumer is None:
            return None
        tp = TopicPartition(topic, partition)
        if tp not in self.consumer.assignment():  # no longer here (aiokafka asserts)
            return None
        value = self.consumer.highwater(tp)
        return value if isinstance(value, int) else None

    def position(self, topic: str, partition: int) -> int | None:
        return self.positions.get((topic, partition))

    def lag(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for (topic, partition), at in list(self.positions.items()):
            high = self.highwater(topic, partition)
            if high is not None:
                out[(topic, partition)] = max(0, high - at)
        return out

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled; a failure (the broker away, say) restarts the loop after a pause."""
        while True:
            try:
                await self._run_once()
            except BaseException as exc:
                if not restartable(exc):
                    raise
                log.exception("intake stopped; restarting in %.0f s", RESTART_AFTER_S)
                await asyncio.sleep(RESTART_AFTER_S)

    @property
    def transactional_id(self) -> str:
        return f"{self.settings.app_id}-intake-{self.settings.instance}"

    async def _run_once(self) -> None:
        cfg = self.settings
        # the record limit is read again at each start: a topic's limit lowered meanwhile is
        # then met at send(), record by record, not as a failed transaction
        limit = await record_limit(cfg, [DOSSIER_EVENTS, DEADLETTER])
        producer = AIOKafkaProducer(
            **transactional_producer_options(cfg, self.transactional_id, limit)
        )
        consumer = AIOKafkaConsumer(**stage_consumer_options(cfg, self.group_id))
        await producer.start()  # aborts what a previous run of this instance left open
        outbound = Outbound(producer)
        try:
            consumer.subscribe(list(INBOUND_TOPICS.values()), listener=_Rebalance(self))
            await consumer.start()
            self.consumer = consumer
            try:
                while True:
                    batches, member = await take_batch(consumer, cfg.batch_max, cfg.batch_within_s)
                    if member is None:
                        # read as it was dropped from the group: not ours to commit; the
                        # partitions' positions go back to the committed offsets as it rejoins
                        batches = {}
                    # a stop waits for the batch in hand: its transaction commits or aborts
                    await asyncio.shield(self._batch_once(outbound, consumer, batches, member))
            finally:
                self.consumer = None
                async with self._batch:
                    await stop_consumer(consumer)
        finally:
            await producer.stop()

    async def _batch_once(
        self,
        outbound: Outbound,
        consumer: AIOKafkaConsumer,
        batches: dict[Any, Any],
        member: fencing.Membership | None,
    ) -> None:
        async with self._batch:
            if batches and fencing.membership_or_none(consumer) != member:
                # a rebalance came first (its listener held the lock): the assignment the batch
                # was read in is gone, and its partitions are read again from their committed
                # offsets, here or by their new owner; its offsets would be refused anyway
                batches = {}
            if batches:
                producer = outbound.producer
                await producer.begin_transaction()
                try:
                    await self._process(outbound, consumer, batches)
                    await self._report_marks(outbound)
                    offsets, self._uncommitted = self._uncommitted, {}
                    assert member is not None
                    assert not outbound.open, "records added but not handed over"
                    fencing.stamp(producer, member)  # a stalled member's commit is refused
                    committing = time.perf_counter()
                    await producer.send_offsets_to_transaction(offsets, self.group_id)
                    await producer.commit_transaction()
                    self.metrics.commit_seconds.labels("intake").observe(
                        time.perf_counter() - committing
                    )
                    self.metrics.batch_records.labels("intake").observe(
                        sum(len(m) for m in batches.values())
                    )
                except BaseException:
                    self._uncommitted.clear()
                    self._read.clear()
                    await outbound.abort()
                    raise
                self._committed()
            await self._note_positions(consumer, batches)

    async def _report_marks(self, outbound: Outbound) -> None:
        """A clock record, in the batch's transaction, with the marks its commit makes true, to
        every partition of hub.dossier.events, when the batch sent an event (and so may move a
        high; a batch of dead letters only moves none). The ticks report the marks only after
        the commit: a worker killed in between took the batch's highs with it, and the intake
        after it, with nothing of those partitions left to read, never reported them. The
        watermark then stayed below them for good (the kill -9 fault test lost the alerts due
        after them). Committed with the events it reports, a high is never lost, and
        the judge reads it after those events (the same partitions, later offsets). Under the
        wall clock the marks move nothing: no record is added then."""
        if self.settings.clock is not ClockMode.EVENT:
            return
        if not any(o.event is not None and o.sent for _, events in self._read for o in events):
            return
        marks = self.marks.copy()
        _deliver(marks, self._read)
        record = clock_record(
            self.clock, marks, self.partition_count(), self.highwater, self.position
        )
        headers = kind_headers(KIND_CLOCK)
        for partition in await outbound.partitions(DOSSIER_EVENTS):
            await outbound.add(DOSSIER_EVENTS, record, b"", headers, partition=partition)
        await asyncio.gather(*(f for _, _, f in await outbound.flush()))

    def _committed(self) -> None:
        """The batch is in the log: only now do its partitions' marks move, so a clock record
        never reports an event a read-committed reader cannot see yet."""
        read, self._read = self._read, []
        _deliver(self.marks, read)

    async def _process(
        self, outbound: Outbound, consumer: AIOKafkaConsumer, batches: dict[Any, Any]
    ) -> None:
        cfg = self.settings
        now = self.clock()  # one "now" for the batch: the window of accepted times, failed_at
        sent: list[tuple[_Out, Slot | Exception]] = []
        read: list[tuple[Any, list[_Out]]] = []  # each inbound record and its events
        headers = event_headers(entered_stamp(time.time()))
        latest: dict[str, int] = {}  # source -> the event time of its batch's last message
        tally = Tally()  # the counters move once, for the batch's messages
        try:
            for messages in batches.values():
                for msg in messages:
                    raw = msg.value if msg.value is not None else b""
                    source, decoded = decode(
                        cfg, self.calendar, msg.topic, msg.partition, msg.offset, raw, now
                    )
                    tally.add(source, decoded)
                    if decoded.rejections:
                        for dl in self._letters(msg, source, decoded.rejections, now):
                            out = _Out(DEADLETTER, dl.key, dl.value, dl.headers, msg, source)
                            sent.append((out, await _send(outbound, out)))
                    events: list[_Out] = []
                    for ev in decoded.events:
                        key = ev.dossier_code.encode()
                        out = _Out(DOSSIER_EVENTS, key, encode_event(ev), headers, msg, source, ev)
                        sent.append((out, await _send(outbound, out)))
                        events.append(out)
                    high = _high(events)
                    if high is not None:
                        latest[source] = high
                    read.append((msg, events))
        finally:
            tally.flush(self.metrics)
        # the gauge is set once a batch: to what its last message per source would have set
        for source, high in latest.items():
            self.metrics.event_lag.labels(source).set((to_ms(now) - high) / 1000)
        refused = await _outcomes(outbound, sent)
        if refused:
            await self._resend(outbound, refused, now)
        self._read += read
        for tp, messages in batches.items():
            if messages:
                self._uncommitted[tp] = messages[-1].offset + 1

    def _letters(
        self, msg: Any, source: str, rejections: list[Rejection], now: datetime
    ) -> list[DeadLetter]:
        return dead_letters(
            rejections,
            key=msg.key,
            value=msg.value if msg.value is not None else b"",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            connector=source,
            failed_at=now,
            factor=self.settings.deadletter_bytes_factor,
        )

    async def _resend(self, outbound: Outbound, refused: list[_Out], now: datetime) -> None:
        """The records refused as too large. The broker refuses a whole batch for one record
        over its limit, so the largest is sent alone and the others together again, until none
        is refused. One refused alone is too large by itself: a dead letter is sent cut, events
        are dead-lettered as INTERNAL."""
        producer = outbound.producer
        lost: dict[int, list[tuple[_Out, Exception]]] = {}  # id(inbound record) -> its events
        pending = refused
        while pending:
            largest = max(pending, key=lambda o: o.size)
            pending = [o for o in pending if o is not largest]
            err = await _send_alone(producer, largest)
            if err is not None:
                if largest.event is None:
                    await self._send_cut(producer, largest)
                else:
                    largest.sent = False
                    lost.setdefault(id(largest.msg), []).append((largest, err))
            if pending:
                sent = [(o, await _send(outbound, o)) for o in pending]
                pending = await _outcomes(outbound, sent)
        for events in lost.values():
            await self._events_lost(producer, events, now)

    async def _events_lost(
        self, producer: AIOKafkaProducer, lost: list[tuple[_Out, Exception]], now: datetime
    ) -> None:
        """Events of one inbound record that can never be sent: its dead letters as INTERNAL
        (one per event, the item's index, within the dead-letter budget of the record)."""
        msg, source = lost[0][0].msg, lost[0][0].source
        lost.sort(key=lambda pair: _item_of(pair[0]) or 0)
        rejections = [
            Rejection(
                Reason.INTERNAL,
                f"its event ({out.size} bytes) could not be sent to {DOSSIER_EVENTS}: {err}",
                _item_of(out),
            )
            for out, err in lost
        ]
        log.error(
            "%d event(s) of %s[%d]@%d too large to send: dead-lettered as INTERNAL",
            len(rejections),
            msg.topic,
            msg.partition,
            msg.offset,
        )
        self.metrics.deadletters.labels(source, Reason.INTERNAL.value).inc(len(rejections))
        for dl in self._letters(msg, source, rejections, now):
            out = _Out(DEADLETTER, dl.key, dl.value, dl.headers, msg, source)
            if await _send_alone(producer, out) is not None:
                await self._send_cut(producer, out)

    async def _send_cut(self, producer: AIOKafkaProducer, out: _Out) -> None:
        """A dead letter too large by itself, sent cut to fit. The broker's limit is not known
        here, so the value (and key) is halved until it fits, from half its size (or
        MOTCUA_MAX_MESSAGE_BYTES, if less): a bounded number of tries, never an endless retry.
        Even cut to nothing it may not fit (headers over the limit): then it is logged."""
        msg, letter = out.msg, DeadLetter(out.key, out.value, out.headers)
        keep = min(max(len(out.key or b""), len(out.value)) // 2, self.settings.max_message_bytes)
        while True:
            cut = truncated(letter, keep)
            attempt = _Out(DEADLETTER, cut.key, cut.value, cut.headers, msg, out.source)
            err = await _send_alone(producer, attempt)
            if err is None:
                log.warning(
                    "dead letter of %s[%d]@%d too large (%d bytes): sent cut to %d",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    out.size,
                    attempt.size,
                )
                return
            if keep == 0:
                log.error(
                    "dead letter of %s[%d]@%d could not be sent, even cut to nothing: %s",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    err,
                )
                return
            keep //= 2

    async def _note_positions(self, consumer: AIOKafkaConsumer, batches: dict[Any, Any]) -> None:
        """Where each partition stands: those just read, those not known yet (a partition
        nothing arrives on must still be known to be read to its end, to turn idle), and all of
        them when the poll was empty (a position also moves past records that are no messages,
        such as transaction markers)."""
        known = self.positions
        assigned = consumer.assignment()
        fresh = [tp for tp in assigned if (tp.topic, tp.partition) not in known]
        for tp in {*batches, *fresh} if batches else assigned:
            try:
                self.positions[(tp.topic, tp.partition)] = await consumer.position(tp)
            except IllegalStateError:  # revoked meanwhile
                self.positions.pop((tp.topic, tp.partition), None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.intake._batch:  # the batch in hand commits first
            for tp in revoked:
                self.intake.positions.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.intake.marks.assigned({f"{tp.topic}:{tp.partition}" for tp in assigned})
