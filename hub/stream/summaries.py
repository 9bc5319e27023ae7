"""Province-wide statistics across workers: dossier summaries on a compacted topic.

Design. A dossier lives on one partition of `hub.dossier.events`, judged by the one worker that
owns it; the execution map needs every dossier. So:

    judge (owner of the dossier's partition) --summary, keyed by dossier code--> hub.dossier.summary
                                                                                   (compacted)
    every worker: SummaryStore = its own aiokafka consumer, all partitions, from the beginning,
                  no consumer group -> an in-memory map dossier code -> Summary

- `SummaryPublisher` is the judge's hook: after each evaluation it turns the facts into a
  `hub.domain.stats.Summary` (times only: receipt, closing, due dates in force, pauses, alert
  intervals, holder; no "now" and no personal data) and sends it when it differs from the last
  one it sent for that dossier (an LRU of digests; after a restart it re-sends, which compaction
  absorbs). A summary changes only when an event arrives, not as time passes, so the stream is
  as quiet as the inbound feed.
- The judge's clock also goes there: on each tick, for every partition this worker judges, the key
  `\\x00clock/<partition>` with the partition's "now" (event-clock watermark, or wall clock less
  the allowed lateness) when it moved. Readers take the highest: the instant the statistics are
  computed "as of" (under `MOTCUA_CLOCK=wall` a reader uses its worker's injected clock).
- `SummaryStore` (an app task of every worker) reads the topic with a consumer of its
  own, not in the app's group: every worker gets every partition and the same map, whatever the
  partition assignment, and rebalances do not touch it. Any worker answers `/api/units` for any
  period from it (`hub.domain.stats.unit_stats`). Memory: a few hundred bytes per dossier.
- The summary's partition is the dossier's events partition (same key, same partitioner, same
  count), so a worker can also tell which summaries belong to the partitions it judges (the
  per-worker gauges of hub/monitoring.py, which then add up across workers).

Consistency: eventually consistent, a summary reaches the readers a produce/fetch round-trip
after the event (milliseconds); a reader that is catching up serves what it has read so far
(`/health` reports its lag). Under the event clock every worker converges to the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.domain.calendar import WorkingCalendar
from hub.domain.dossier import DossierFacts
from hub.domain.stats import Summary, summarize
from hub.kafka_client import connection_options
from hub.metrics import HubMetrics
from hub.protocol import (
    WORKER_PREFIX,
    ProtocolError,
    WorkerEntry,
    clock_key,
    clock_partition,
    encode_summary_clock,
    parse_summary_clock,
    parse_worker,
)
from hub.settings import ClockMode, Settings
from hub.stream.clock import Clock
from hub.topics import DOSSIER_SUMMARY

log = logging.getLogger(__name__)


class SummaryPublisher:
    """Collects the judge's changed summaries; the agent sends them after each message."""

    def __init__(
        self, calendar: WorkingCalendar, grace_working_days: int, capacity: int = 50000
    ) -> None:
        self.calendar = calendar
        self.grace = grace_working_days
        self.capacity = capacity
        self.pending: list[tuple[bytes, bytes]] = []
        self._sent: OrderedDict[bytes, bytes] = OrderedDict()
        self._clock_sent: dict[int, int] = {}

    def collect(self, key: bytes, facts: DossierFacts) -> None:
        value = summarize(facts, self.calendar, self.grace).dumps()
        digest = hashlib.blake2b(value, digest_size=16).digest()
        if self._sent.get(key) == digest:
            return
        self._sent[key] = digest
        self._sent.move_to_end(key)
        while len(self._sent) > self.capacity:
            self._sent.popitem(last=False)
        self.pending.append((key, value))

    def clock(self, now_by_partition: dict[int, int | None]) -> list[tuple[bytes, bytes]]:
        """The clock records of the partitions whose "now" moved since last sent."""
        out: list[tuple[bytes, bytes]] = []
        for partition, now in now_by_partition.items():
            if now is None or self._clock_sent.get(partition) == now:
                continue
            self._clock_sent[partition] = now
            out.append((clock_key(partition), encode_summary_clock(now)))
        return out

    def take(self) -> list[tuple[bytes, bytes]]:
        out, self.pending = self.pending, []
        return out


def consumer_options(settings: Settings) -> dict[str, Any]:
    """A reader of what the judge writes (its transactions): what committed, nothing else."""
    return {
        **connection_options(settings),
        "client_id": f"{settings.app_id}-summaries",
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }


class SummaryStore:
    """Every dossier's latest summary, read from the compacted topic (all partitions).

    `run()` reads until cancelled (the worker runs it as an app task)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        metrics: HubMetrics | None = None,
        consumer_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._factory = consumer_factory or (lambda: AIOKafkaConsumer(**consumer_options(settings)))
        self.summaries: dict[str, Summary] = {}
        self.partition_of: dict[str, int] = {}
        self.clocks: dict[int, int] = {}
        self.workers: dict[str, WorkerEntry] = {}  # instance -> what it judges, its web url
        self.lag: dict[int, int] = {}
        self.read_messages = 0
        self.started_reading: float | None = None
        self.caught_up = False
        self._consumer: AIOKafkaConsumer | None = None

    # -- reading ------------------------------------------------------------------------------
    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.read_messages += 1
        try:
            self._apply(partition, key, value)
        except (ProtocolError, ValueError, KeyError, TypeError, RecursionError) as exc:
            # another program's record, or a bug's: counted and skipped, never fatal
            log.warning("skipped a record on %s: %s", DOSSIER_SUMMARY, exc)
            if self.metrics is not None:
                self.metrics.skipped.labels(DOSSIER_SUMMARY).inc()

    def _apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        if not key:
            raise ProtocolError("a summary record without a key")
        if key.startswith(WORKER_PREFIX):
            name = key[len(WORKER_PREFIX) :].decode()
            if value is None:
                self.workers.pop(name, None)
            else:
                self.workers[name] = parse_worker(value)
            return
        p = clock_partition(key)
        if p is not None:
            if value:
                now = parse_summary_clock(value)
                # no judge's "now" passes the latest event time the intake accepts
                limit = self.clock().timestamp() + self.settings.max_event_lead_s + 300
                if now > limit * 1000:
                    raise ProtocolError(f"a clock on {DOSSIER_SUMMARY} ahead of the wall clock")
                self.clocks[p] = max(self.clocks.get(p, 0), now)
            return
        code = key.decode()
        if value is None:  # tombstone
            self.summaries.pop(code, None)
            self.partition_of.pop(code, None)
            return
        summary = Summary.loads(value)
        if summary.code != code:
            raise ProtocolError(f"a summary of {summary.code[:60]!r} under the key {code[:60]!r}")
        self.summaries[code] = summary
        self.partition_of[code] = partition

    async def _open(self) -> AIOKafkaConsumer:
        """Subscribed without a group: aiokafka assigns every partition, read from the start."""
        while True:
            consumer = self._factory()
            try:
                await consumer.start()
                consumer.subscribe([DOSSIER_SUMMARY])
                return consumer
            except Exception as exc:
                log.warning("summary reader cannot start yet: %r", exc)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await asyncio.sleep(1.0)

    async def run(self) -> None:
        consumer = self._consumer = await self._open()
        self.started_reading = time.monotonic()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, messages in batches.items():
                    for m in messages:
                        self.apply(tp.partition, m.key, m.value)
                    await self._note_lag(consumer, tp)
                if not batches:
                    for tp in consumer.assignment():
                        await self._note_lag(consumer, tp)
                    if all(v <= 0 for v in self.lag.values()):
                        self.caught_up = True
        finally:
            self._consumer = None
            await consumer.stop()

    async def _note_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        high = consumer.highwater(tp)
        if high is None:
            return
        position = await consumer.position(tp)
        self.lag[tp.partition] = max(0, high - position)

    # -- answering ----------------------------------------------------------------------------
    def as_of(self) -> datetime | None:
        """The instant the statistics are judged at (rules.md §6 "now")."""
        if self.settings.clock is ClockMode.WALL:
            return self.clock() - timedelta(seconds=self.settings.allowed_lateness_s)
        if not self.clocks:
            return None
        return datetime.fromtimestamp(max(self.clocks.values()) / 1000, tz=UTC)

    def owner_url(self, partition: int) -> str | None:
        """The web url of the worker that said last that it judges `partition`."""
        owners = [w for w in self.workers.values() if partition in w.partitions]
        return max(owners, key=lambda w: w.at_ms).url if owners else None

    def status(self) -> dict[str, Any]:
        return {
            "dossiers": len(self.summaries),
            "messages_read": self.read_messages,
            "lag": sum(self.lag.values()),
            "caught_up": self.caught_up,
        }
