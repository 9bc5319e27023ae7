"""Stage 2 on plain aiokafka: hub.dossier.events -> alerts, exactly once.

Each worker runs one consumer (group `<app id>-judge`, read committed) and one transactional
producer (`<app id>-judge-<instance>`). Per batch:

1. every record is judged (hub/stream/judge.py: its dossier's state in the table, alerts out);
2. in one transaction: the alerts, the records for hub.dossier.events itself (claims, forwarded
   events), the changed summaries, the dead letters of records that could not be judged, the
   changed states on the changelog, and the batch's input offsets; then commit.

So a transition, the state that records it as sent and the input that caused it are committed
together or not at all. A failed transaction leaves the worker's state ahead of what is
committed: the loop then drops all of it, leaves the group and starts again, rebuilding each
partition's state from the changelog as it is assigned (at most once per partition and
assignment: a partition it keeps across a rebalance keeps its state).

A partition assigned to this worker is rebuilt from the changelog (read committed: up to the
last stable offset) before any of its records is judged; a rebalance waits for the batch in
hand. A restarted worker with the same instance id aborts what its previous run left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError

from hub.codec import CodecError, encode_alert
from hub.domain.alerts import Alert
from hub.errors import DeadLetterError
from hub.kafka_client import (
    connection_options,
    stage_consumer_options,
    transactional_producer_options,
)
from hub.metrics import HubMetrics
from hub.protocol import (
    KIND_EVENT,
    DeadLetterInfo,
    dead_letter_headers,
    entered_at,
    kind_headers,
    kind_of,
)
from hub.settings import Settings
from hub.stream import fencing
from hub.stream.batches import take_batch
from hub.stream.clock import Clock
from hub.stream.judge import Judge
from hub.stream.summaries import SummaryPublisher
from hub.stream.table import DossierTable
from hub.topics import (
    ALERTS,
    DEADLETTER,
    DOSSIER_EVENTS,
    DOSSIER_SUMMARY,
    changelog_topic,
    record_limit,
)

log = logging.getLogger(__name__)
RESTART_AFTER_S = 5.0
# what a stored state holds besides its events' bytes, at most (its alerts, lengths, header)
STATE_OVERHEAD = 200_000


class JudgeLoop:
    """The judge's consumer, its transactional producer and the partitions it holds."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        judge: Judge,
        table: DossierTable,
        publisher: SummaryPublisher,
        metrics: HubMetrics,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.judge = judge
        self.table = table
        self.publisher = publisher
        self.metrics = metrics
        self.assigned: set[int] = set()  # partitions of hub.dossier.events judged here
        self.consumer: AIOKafkaConsumer | None = None
        self._batch = asyncio.Lock()
        self._member_id: str | None = None  # in the group as, at the last assignment

    @property
    def group_id(self) -> str:
        return f"{self.settings.app_id}-judge"

    @property
    def transactional_id(self) -> str:
        return f"{self.settings.app_id}-judge-{self.settings.instance}"

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled; a failure drops the state and starts again from what is committed."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("judge stopped; restarting from the committed state")
                self._reset()
                await asyncio.sleep(RESTART_AFTER_S)

    def _reset(self) -> None:
        self.table.clear_all()
        self.publisher.take()
        self.judge.outbox.clear()
        self.judge.forget_partitions()
        self.assigned.clear()
        self._member_id = None

    async def _run_once(self) -> None:
        cfg = self.settings
        limit = await record_limit(
            cfg, [ALERTS, DOSSIER_EVENTS, DOSSIER_SUMMARY, DEADLETTER, self.changelog]
        )
        if cfg.max_dossier_bytes + STATE_OVERHEAD > limit:
            # a full dossier's state would not fit a changelog record: its batch could never
            # commit, and the judge would try it again and again
            log.error(
                "MOTCUA_MAX_DOSSIER_BYTES=%d leaves no room in the topics' %d-byte records: "
                "lower it, or raise max.message.bytes",
                cfg.max_dossier_bytes,
                limit,
            )
        producer = AIOKafkaProducer(
            **transactional_producer_options(cfg, self.transactional_id, limit)
        )
        consumer = AIOKafkaConsumer(**stage_consumer_options(cfg, self.group_id))
        await producer.start()  # aborts what a previous run of this instance left open
        try:
            consumer.subscribe([DOSSIER_EVENTS], listener=_Rebalance(self))
            self.consumer = consumer  # before start: the first assignment may come at once
            await consumer.start()
            try:
                while True:
                    batches = await take_batch(consumer, cfg.batch_max, cfg.batch_within_s)
                    member = fencing.membership_or_none(consumer)  # the one it was read in
                    if batches and member is not None:
                        # a stop waits for the batch in hand: its transaction commits or aborts
                        await asyncio.shield(self._locked(producer, member, batches))
            finally:
                self.consumer = None
                async with self._batch:
                    await consumer.stop()
        finally:
            await producer.stop()

    @property
    def changelog(self) -> str:
        return changelog_topic(self.settings.app_id)

    async def _locked(
        self, producer: AIOKafkaProducer, member: fencing.Membership, batches: dict[Any, Any]
    ) -> None:
        async with self._batch:
            await self._process(producer, member, batches)

    async def _process(
        self, producer: AIOKafkaProducer, member: fencing.Membership, batches: dict[Any, Any]
    ) -> None:
        judge = self.judge
        alerts: list[Alert] = []
        failed: list[tuple[Any, Exception]] = []
        entered: list[float] = []
        for messages in batches.values():
            for msg in messages:
                try:
                    kind = kind_of(msg.headers)
                    found = judge.handle(kind, msg.partition, msg.key, msg.value)
                except (DeadLetterError, CodecError) as exc:  # a stray record, a full dossier
                    log.warning(
                        "dead-lettered a stray record %s[%d]@%d: %s",
                        msg.topic,
                        msg.partition,
                        msg.offset,
                        exc,
                    )
                    failed.append((msg, exc))
                    continue
                except Exception as exc:  # a bug on one dossier must not stop the others
                    log.exception("judging %r failed", msg.key)
                    self.metrics.judge_failures.inc()
                    failed.append((msg, exc))
                    continue
                if found and kind == KIND_EVENT and (stamp := entered_at(msg.headers)):
                    entered.append(stamp)
                alerts += found
        judge.flush()
        consumer = self.consumer
        assert consumer is not None
        offsets = {tp: await _next_offset(consumer, tp, m) for tp, m in batches.items() if m}
        await producer.begin_transaction()
        try:
            for alert in alerts:
                key = alert.dossier_code.encode()
                await producer.send(ALERTS, encode_alert(alert), key=key)
            for key, value, record_kind in judge.outbox:
                headers = kind_headers(record_kind)
                await producer.send(DOSSIER_EVENTS, value, key=key, headers=headers)
            judge.outbox.clear()
            for key, value in self.publisher.take():
                await producer.send(DOSSIER_SUMMARY, value, key=key)
            for bad, error in failed:
                self.metrics.deadletters.labels("hub", _reason(error)).inc()
                headers = _dead_letter(bad, error, self.clock())
                await producer.send(DEADLETTER, bad.value, key=bad.key, headers=headers)
            for key, state, partition in self.table.take():
                await producer.send(self.changelog, state, key=key, partition=partition)
            fencing.stamp(producer, member)  # a stalled member's commit is refused
            committing = time.perf_counter()
            await producer.send_offsets_to_transaction(offsets, self.group_id)
            await producer.commit_transaction()
            self.metrics.commit_seconds.labels("judge").observe(time.perf_counter() - committing)
            self.metrics.batch_records.labels("judge").observe(
                sum(len(m) for m in batches.values())
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.abort_transaction()
            raise
        done = time.time()
        for t in entered:
            self.metrics.latency.observe(max(0.0, done - t))

    def partition_count(self) -> int:
        """How many partitions hub.dossier.events has (0 while not known)."""
        parts = self.consumer.partitions_for_topic(DOSSIER_EVENTS) if self.consumer else None
        return len(parts) if parts else 0

    # -- partitions -----------------------------------------------------------------------------
    async def on_assigned(self, partitions: set[int], member_id: str) -> None:
        """Forget the partitions gone, rebuild the new ones from the changelog.

        A partition this worker had before keeps its state only if the worker stayed in the
        group meanwhile: an eager rebalance shows every member every assignment, so a partition
        judged elsewhere in between was seen to go. A worker dropped from the group (stalled
        past its session, cut off from the broker) comes back under a new member id, and may
        have missed generations: it rebuilds everything."""
        kept = partitions & self.assigned
        moved = kept if member_id != self._member_id else set()
        if moved:
            log.warning("back in the group as a new member: partitions %s rebuilt", sorted(moved))
        self._member_id = member_id
        gone = (self.assigned - partitions) | moved
        new = (partitions - self.assigned) | moved
        if gone:
            self.table.drop_partitions(gone)
        if new:
            started = time.monotonic()
            read = await self._restore(new)
            log.info(
                "restored partitions %s from %s: %d records in %.1f s",
                sorted(new),
                self.changelog,
                read,
                time.monotonic() - started,
            )
        self.assigned = set(partitions)
        self.judge.forget_partitions()

    async def _restore(self, partitions: set[int]) -> int:
        consumer = AIOKafkaConsumer(
            group_id=None,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            **connection_options(self.settings),
        )
        await consumer.start()
        read = 0
        try:
            tps = [TopicPartition(self.changelog, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)  # read committed: the last stable offsets
            todo = {tp: end for tp, end in ends.items() if end > 0}
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500, max_records=10_000)
                for records in batch.values():
                    for r in records:
                        self.table.restore(r.key, r.value)
                        read += 1
                for tp in list(todo):
                    if await consumer.position(tp) >= todo[tp]:
                        del todo[tp]
        finally:
            await consumer.stop()
        return read


async def _next_offset(consumer: AIOKafkaConsumer, tp: TopicPartition, messages: Any) -> int:
    """Where the partition is read to: past the batch's last record, and past the transaction
    markers behind it, so a committed group is seen to be at the partition's end."""
    last = int(messages[-1].offset) + 1
    try:
        return max(last, int(await consumer.position(tp)))
    except IllegalStateError:
        return last


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: JudgeLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # The batch in hand commits first. The states are kept until the new assignment is
        # known: a partition this worker keeps keeps its state (an eager rebalance revokes all).
        async with self.loop._batch:
            pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self.loop._batch:
            consumer = self.loop.consumer
            member = "" if consumer is None else str(consumer._coordinator.member_id)
            await self.loop.on_assigned(
                {tp.partition for tp in assigned if tp.topic == DOSSIER_EVENTS}, member
            )


def _reason(exc: Exception) -> str:
    """A dossier over its bounds is TOO_LARGE; a stray record or a bug, INTERNAL."""
    return exc.reason if isinstance(exc, DeadLetterError) else "INTERNAL"


def _dead_letter(msg: Any, exc: Exception, now: Any) -> list[tuple[str, bytes]]:
    return dead_letter_headers(
        DeadLetterInfo(
            reason=_reason(exc),
            message=repr(exc)[:1000],
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            connector="judge",
            failed_at=now,
        )
    )
