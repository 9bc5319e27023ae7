"""Stage 2 on plain aiokafka: hub.dossier.events -> alerts, exactly once.

Each worker runs one consumer (group `<app id>-judge`, read committed) and one transactional
producer (`<app id>-judge-<instance>`). Per batch:

1. every record is judged (hub/stream/judge.py: its dossier's state in the table, alerts out);
2. in one transaction: the alerts, the records for hub.dossier.events itself (claims, forwarded
   events), the changed summaries, the dead letters of records that could not be judged, the
   changed states on the changelog, and the batch's input offsets; then commit.

So a transition, the state that records it as sent and the input that caused it are committed
together or not at all. Only once the transaction has committed do the batch's states go to
the local store (hub/stream/table.py), with the changelog offsets they reach: the store never
holds what did not commit. A failed transaction drops the batch's writes and the judge's
in-memory indexes; the loop leaves the group and starts again from what is committed.

A partition assigned to this worker is caught up from the changelog (read committed: up to the
last stable offset) before any of its records is judged: from the offset its local store
reaches, or from the start (hub/stream/restore.py). A partition revoked stays in an on-disk
store, and with several workers a standby follows the changelog of the partitions judged
elsewhere, so a rebalance reads only a tail. A rebalance waits for the batch in hand. A
restarted worker with the same instance id aborts what its previous run left open.
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
    restartable,
    stage_consumer_options,
    stop_consumer,
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
from hub.settings import Settings, StateStore
from hub.stream import fencing
from hub.stream.batches import take_batch
from hub.stream.clock import Clock
from hub.stream.judge import Judge
from hub.stream.outbound import Outbound
from hub.stream.publisher import SummaryPublisher
from hub.stream.restore import Standby, restore, tombstone_age_s
from hub.stream.table import DossierTable, MemoryStore
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
TOUCH_EVERY_S = 60.0
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
        # the local store's writers besides the judge's commits: restores, the standby
        self._store = asyncio.Lock()
        self._judged: set[int] = set()  # assigned here (being restored, or judged)
        self._member_id: str | None = None  # in the group as, at the last assignment
        self._max_age_s = 0.0  # how old local data may be (restore.tombstone_age_s)
        self._touched = 0.0
        # a restore that failed in the rebalance listener (aiokafka logs and ignores what the
        # listener raises): no batch may be judged without its partitions' state
        self._failed: Exception | None = None

    @property
    def group_id(self) -> str:
        return f"{self.settings.app_id}-judge"

    @property
    def transactional_id(self) -> str:
        return f"{self.settings.app_id}-judge-{self.settings.instance}"

    # -- the local store ------------------------------------------------------------------------
    def open_store(self) -> None:
        """Open the on-disk store (MOTCUA_STATE_STORE=rocksdb), once: its directory is locked,
        and a worker pointed at one in use stops here (StoreLockedError)."""
        cfg = self.settings
        if cfg.state_store is StateStore.ROCKSDB and isinstance(self.table.store, MemoryStore):
            from hub.stream.rocks import RocksStore  # rocksdict only where it is used

            path = cfg.state_dir("dossiers")
            self.table.store = RocksStore(path, cfg.rocksdb_block_cache_mb)
            log.info("local state in %s", path)

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled; a failure drops the state and starts again from what is committed."""
        self.open_store()
        try:
            while True:
                try:
                    await self._run_once()
                except BaseException as exc:
                    if not restartable(exc):
                        raise
                    log.exception("judge stopped; restarting from the committed state")
                    self._reset()
                    await asyncio.sleep(RESTART_AFTER_S)
        finally:
            self.table.close()

    def _reset(self) -> None:
        # the store holds only what committed: on disk it is kept, and read on from at the
        # next assignment (an in-memory store drops what it held, as for any revoked partition)
        self.table.discard()
        self.table.revoke(set(self.table.active))
        self.publisher.take()
        self.judge.outbox.clear()
        self.judge.forget_partitions()
        self.table.discard()  # what forget_partitions flushed
        self.assigned.clear()
        self._judged = set()
        self._member_id = None
        self._failed = None

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
        self._max_age_s = await tombstone_age_s(cfg)
        producer = AIOKafkaProducer(
            **transactional_producer_options(cfg, self.transactional_id, limit)
        )
        consumer = AIOKafkaConsumer(**stage_consumer_options(cfg, self.group_id))
        await producer.start()  # aborts what a previous run of this instance left open
        outbound = Outbound(producer)
        standby: asyncio.Task[None] | None = None
        try:
            consumer.subscribe([DOSSIER_EVENTS], listener=_Rebalance(self))
            self.consumer = consumer  # before start: the first assignment may come at once
            await consumer.start()
            if cfg.standby_replicas and self.table.store.keeps_revoked:
                follow = Standby(
                    cfg,
                    self.table,
                    self._store,
                    self._standby_excluded,
                    self.partition_count,
                    self._max_age_s,
                )
                standby = asyncio.create_task(self._run_standby(follow), name="judge-standby")
            try:
                while True:
                    batches, member = await take_batch(consumer, cfg.batch_max, cfg.batch_within_s)
                    if batches and member is not None:
                        # a stop waits for the batch in hand: its transaction commits or aborts
                        await asyncio.shield(self._locked(outbound, member, batches))
            finally:
                self.consumer = None
                if standby is not None:
                    standby.cancel()
                    with contextlib.suppress(BaseException):
                        await standby
                async with self._batch:
                    await stop_consumer(consumer)
        finally:
            await producer.stop()

    def _standby_excluded(self) -> set[int] | None:
        # judged here; None (follow nothing yet) until the judge has its first assignment, so a
        # first start restores its partitions without a standby racing it for the broker
        return set(self._judged) if self._member_id is not None else None

    async def _run_standby(self, standby: Standby) -> None:
        while True:
            try:
                await standby.run()
            except BaseException as exc:  # the standby only saves time later: never stop the judge
                if not restartable(exc):
                    raise
                log.exception("standby stopped; starting again")
                await asyncio.sleep(RESTART_AFTER_S)

    @property
    def changelog(self) -> str:
        return changelog_topic(self.settings.app_id)

    async def _locked(
        self, outbound: Outbound, member: fencing.Membership, batches: dict[Any, Any]
    ) -> None:
        async with self._batch:
            if self._failed is not None:
                raise RuntimeError("a partition's state could not be restored") from self._failed
            if self.consumer is None or fencing.membership_or_none(self.consumer) != member:
                # a rebalance came first (its listeners held the lock): the assignment the batch
                # was read in is gone, and its partitions are read again from their committed
                # offsets, here or by their new owner; its offsets would be refused anyway
                return
            await self._process(outbound, member, batches)

    async def _process(
        self, out: Outbound, member: fencing.Membership, batches: dict[Any, Any]
    ) -> None:
        producer = out.producer
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
                await out.add(ALERTS, encode_alert(alert), alert.dossier_code.encode())
            for key, value, record_kind in judge.outbox:
                await out.add(DOSSIER_EVENTS, value, key, kind_headers(record_kind))
            judge.outbox.clear()
            for key, value in self.publisher.take():
                await out.add(DOSSIER_SUMMARY, value, key)
            for bad, error in failed:
                self.metrics.deadletters.labels("hub", _reason(error)).inc()
                headers = _dead_letter(bad, error, self.clock())
                await out.add(DEADLETTER, bad.value, bad.key, headers)
            for key, state, partition in self.table.take():
                await out.add(self.changelog, state, key, partition=partition)
            handed = await out.flush()
            assert not out.open
            fencing.stamp(producer, member)  # a stalled member's commit is refused
            committing = time.perf_counter()
            await producer.send_offsets_to_transaction(offsets, self.group_id)
            await producer.commit_transaction()
            self.metrics.commit_seconds.labels("judge").observe(time.perf_counter() - committing)
            self.metrics.batch_records.labels("judge").observe(
                sum(len(m) for m in batches.values())
            )
        except BaseException:
            self.table.discard()
            await out.abort()
            raise
        # committed: now, and only now, the batch's states go to the local store, with the
        # changelog offset each partition reaches (a crash before this leaves it one batch
        # behind, which the changelog's tail makes up at the next assignment)
        reached: dict[int, int] = {}
        changelog = self.changelog
        for (tp, count, _), metadata in zip(
            handed, await asyncio.gather(*(f for _, _, f in handed)), strict=True
        ):
            if tp.topic == changelog:
                p = tp.partition
                reached[p] = max(reached.get(p, 0), metadata.offset + count)
        self.table.commit(reached)
        self._touch()
        done = time.time()
        for t in entered:
            self.metrics.latency.observe(max(0.0, done - t))

    def partition_count(self) -> int:
        """How many partitions hub.dossier.events has (0 while not known)."""
        parts = self.consumer.partitions_for_topic(DOSSIER_EVENTS) if self.consumer else None
        return len(parts) if parts else 0

    # -- partitions -----------------------------------------------------------------------------
    async def on_assigned(self, partitions: set[int], member_id: str) -> None:
        """Set the partitions gone aside, catch the new ones up from the changelog.

        A partition this worker had before is taken as it is only if the worker stayed in the
        group meanwhile: an eager rebalance shows every member every assignment, so a partition
        judged elsewhere in between was seen to go. A worker dropped from the group (stalled
        past its session, cut off from the broker) comes back under a new member id, and may
        have missed generations: its partitions are caught up again from the changelog."""
        kept = partitions & self.assigned
        moved = kept if member_id != self._member_id else set()
        if moved:
            log.warning("back in the group as a new member: partitions %s caught up", sorted(moved))
        gone = (self.assigned - partitions) | moved
        new = (partitions - self.assigned) | moved
        self.judge.forget_partitions()  # its indexes and cached states: rebuilt as needed
        try:
            await self._assign(partitions, member_id, gone, new)
        except Exception as exc:
            log.exception("restoring partitions %s failed", sorted(new))
            self._failed = exc
            raise

    async def _assign(
        self, partitions: set[int], member_id: str, gone: set[int], new: set[int]
    ) -> None:
        async with self._store:  # the standby leaves the partitions judged here alone
            self._member_id = member_id
            self._judged = set(partitions)
            self.table.revoke(gone)
            started = time.monotonic()
            read = await restore(self.settings, self.table, new, self._max_age_s) if new else 0
            self.table.active = set(partitions)
            restored = time.monotonic()
            # the deadline indexes: a scan of every state of the partitions, in a thread, so the
            # consumer's heartbeats go on (a million states take seconds)
            entries = await asyncio.to_thread(self.judge.build_index, partitions)
            if new:
                log.info(
                    "restored partitions %s from %s: %d records in %.1f s "
                    "(deadline index: %d entries in %.1f s)",
                    sorted(new),
                    self.changelog,
                    read,
                    restored - started,
                    entries,
                    time.monotonic() - restored,
                )
        self.assigned = set(partitions)

    def _touch(self) -> None:
        """Now and then: the judged partitions' stored data is as of now (restore.py)."""
        now = time.monotonic()
        if now - self._touched >= TOUCH_EVERY_S:
            self._touched = now
            self.table.touch(self.table.active)


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
