"""Stage 1 on plain aiokafka: agency messages -> common events on hub.dossier.events.

The judging stage needs faust (a changelog-backed table, partitions it owns); the intake needs
none of that. faust's stream machinery costs more per message than decoding does, and once left
a restarted worker's intake stalled with no error. So each worker runs one consumer (group
`<app id>-intake`) and one producer in a loop that, per batch:

1. decodes every message (connectors/) and sends its events and dead letters;
2. waits until the broker has acknowledged all of them;
3. only then records the partitions' marks (so a clock record never reports an event that is not
   in the log yet, whatever producer sends it) and the offsets to commit (at most every second,
   and before a rebalance).

A crash anywhere re-reads from the last commit: at least once; the judge drops redeliveries.
A rebalance waits for the batch in hand to be sent and committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from hub.codec import encode_event
from hub.domain.calendar import WorkingCalendar
from hub.kafka_client import connection_options
from hub.metrics import HubMetrics
from hub.protocol import entered_stamp, event_headers
from hub.settings import Settings
from hub.stream.clock import Clock
from hub.stream.ingest import InboundMarks, count, dead_letter, decode
from hub.stream.state import to_ms
from hub.topics import DEADLETTER, DOSSIER_EVENTS, INBOUND_TOPICS

log = logging.getLogger(__name__)
RESTART_AFTER_S = 5.0
COMMIT_EVERY_S = 1.0


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
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = 0.0
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
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("intake stopped; restarting in %.0f s", RESTART_AFTER_S)
                await asyncio.sleep(RESTART_AFTER_S)

    async def _run_once(self) -> None:
        cfg = self.settings
        options = connection_options(cfg)
        producer = AIOKafkaProducer(acks="all", max_request_size=4_000_000, **options)
        consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=cfg.batch_max,
            session_timeout_ms=30_000,
            heartbeat_interval_ms=3_000,
            **options,
        )
        await producer.start()
        try:
            consumer.subscribe(list(INBOUND_TOPICS.values()), listener=_Rebalance(self))
            await consumer.start()
            self.consumer = consumer
            try:
                while True:
                    batches = await self._take(consumer)
                    async with self._batch:
                        if batches:
                            await self._process(producer, consumer, batches)
                        await self._note_positions(consumer, batches)
                        if time.monotonic() - self._committed_at >= COMMIT_EVERY_S:
                            await self.commit(consumer)
            finally:
                self.consumer = None
                with contextlib.suppress(Exception):  # stopping: what is not committed is re-read
                    await asyncio.shield(self.commit(consumer))
                await consumer.stop()
        finally:
            await producer.stop()

    async def _take(self, consumer: AIOKafkaConsumer) -> dict[Any, list[Any]]:
        """Up to `MOTCUA_BATCH_MAX` messages, gathered for at most `MOTCUA_BATCH_WITHIN_S` once
        the first one is in: one acknowledgement wait serves the whole batch."""
        cfg = self.settings
        batches: dict[Any, list[Any]] = await consumer.getmany(
            timeout_ms=1000, max_records=cfg.batch_max
        )
        taken = sum(len(m) for m in batches.values())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.batch_within_s
        while batches and taken < cfg.batch_max and (left := deadline - loop.time()) > 0:
            more = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=cfg.batch_max - taken
            )
            if not more:
                break
            for tp, messages in more.items():
                batches.setdefault(tp, []).extend(messages)
                taken += len(messages)
        return batches

    async def _process(
        self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, batches: dict[Any, Any]
    ) -> None:
        cfg = self.settings
        sent: list[asyncio.Future[Any]] = []
        delivered: list[tuple[str, int, int, int | None]] = []
        headers = event_headers(entered_stamp(time.time()))
        for messages in batches.values():
            for msg in messages:
                raw = msg.value if msg.value is not None else b""
                source, decoded = decode(
                    cfg, self.calendar, msg.topic, msg.partition, msg.offset, raw
                )
                count(self.metrics, source, decoded)
                for rejection in decoded.rejections:
                    dl = dead_letter(
                        rejection,
                        key=msg.key,
                        value=raw,
                        topic=msg.topic,
                        partition=msg.partition,
                        offset=msg.offset,
                        connector=source,
                        failed_at=self.clock(),
                    )
                    sent.append(
                        await producer.send(DEADLETTER, dl.value, key=dl.key, headers=dl.headers)
                    )
                high: int | None = None
                for ev in decoded.events:
                    key = ev.dossier_code.encode()
                    sent.append(
                        await producer.send(
                            DOSSIER_EVENTS, encode_event(ev), key=key, headers=headers
                        )
                    )
                    if ev.event_time is not None:
                        ms = to_ms(ev.event_time)
                        high = ms if high is None else max(high, ms)
                if high is not None:
                    self.metrics.event_lag.labels(source).set((to_ms(self.clock()) - high) / 1000)
                delivered.append((msg.topic, msg.partition, msg.offset, high))
        if sent:
            await asyncio.gather(*sent)
        for topic, partition, offset, high in delivered:
            self.marks.delivered(topic, partition, offset, high)
        for tp, messages in batches.items():
            if messages:
                self._uncommitted[tp] = messages[-1].offset + 1

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what has been sent and acknowledged (every COMMIT_EVERY_S, before a
        rebalance, at the end): a commit per batch would cost a round trip each."""
        offsets, self._uncommitted = self._uncommitted, {}
        self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:  # the partitions moved on: their next owner re-reads
            log.warning("intake commit failed after a rebalance: %s", exc)

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
        async with self.intake._batch:  # the batch in hand is sent and committed first
            if self.intake.consumer is not None:
                await self.intake.commit(self.intake.consumer)
            for tp in revoked:
                self.intake.positions.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.intake.marks.assigned({f"{tp.topic}:{tp.partition}" for tp in assigned})
