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
  computed "as of" (under `MOTCUA_CLOCK=wall` a reader uses its own wall clock).
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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.domain.calendar import WorkingCalendar
from hub.domain.dossier import DossierFacts
from hub.domain.stats import Summary, summarize
from hub.kafka_client import connection_options
from hub.settings import ClockMode, Settings
from hub.topics import DOSSIER_EVENTS, DOSSIER_SUMMARY

if TYPE_CHECKING:
    from hub.stream.app import Hub

log = logging.getLogger(__name__)
CLOCK_KEY_PREFIX = b"\x00clock/"


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

    def clock(self, now_by_partition: dict[int, int | None]) -> None:
        for partition, now in now_by_partition.items():
            if now is None or self._clock_sent.get(partition) == now:
                continue
            self._clock_sent[partition] = now
            self.pending.append((CLOCK_KEY_PREFIX + str(partition).encode(), str(now).encode()))

    def forget_clock(self) -> None:
        self._clock_sent.clear()

    def take(self) -> list[tuple[bytes, bytes]]:
        out, self.pending = self.pending, []
        return out


def consumer_options(settings: Settings) -> dict[str, Any]:
    return {
        **connection_options(settings),
        "client_id": f"{settings.app_id}-summaries",
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
    }


class SummaryStore:
    """Every dossier's latest summary, read from the compacted topic (all partitions).

    `run()` reads until cancelled (the worker runs it as an app task)."""

    def __init__(
        self,
        settings: Settings,
        consumer_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self.settings = settings
        self._factory = consumer_factory or (lambda: AIOKafkaConsumer(**consumer_options(settings)))
        self.summaries: dict[str, Summary] = {}
        self.partition_of: dict[str, int] = {}
        self.clocks: dict[int, int] = {}
        self.lag: dict[int, int] = {}
        self.read_messages = 0
        self.started_reading: float | None = None
        self.caught_up = False
        self._consumer: AIOKafkaConsumer | None = None

    # -- reading ------------------------------------------------------------------------------
    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        self.read_messages += 1
        if not key:
            return
        if key.startswith(CLOCK_KEY_PREFIX):
            if value:
                p = int(key[len(CLOCK_KEY_PREFIX) :])
                self.clocks[p] = max(self.clocks.get(p, 0), int(value))
            return
        code = key.decode()
        if value is None:  # tombstone
            self.summaries.pop(code, None)
            self.partition_of.pop(code, None)
            return
        try:
            self.summaries[code] = Summary.loads(value)
            self.partition_of[code] = partition
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable summary for %r", code)

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
            now = time.time() - self.settings.allowed_lateness_s
            return datetime.fromtimestamp(now, tz=UTC)
        if not self.clocks:
            return None
        return datetime.fromtimestamp(max(self.clocks.values()) / 1000, tz=UTC)

    def status(self) -> dict[str, Any]:
        return {
            "dossiers": len(self.summaries),
            "messages_read": self.read_messages,
            "lag": sum(self.lag.values()),
            "caught_up": self.caught_up,
        }


# -- wiring into the worker (hub/stream/app.py calls these) ------------------------------------
def install(hub: Hub) -> None:
    """The summary topic, publisher and reader; the web pages and /metrics."""
    from hub import monitoring, web

    hub.summary_topic = hub.app.topic(DOSSIER_SUMMARY, key_serializer="raw", value_serializer="raw")
    hub.summary_publisher = SummaryPublisher(hub.calendar, hub.settings.grace_working_days)
    hub.judge.on_facts = hub.summary_publisher.collect
    hub.summary_store = SummaryStore(hub.settings)

    async def read_summaries() -> None:
        await hub.summary_store.run()

    hub.app.task(read_summaries)
    web.install(hub)
    monitoring.install(hub)


async def flush(hub: Hub) -> None:
    """Send the summaries the last judged message changed."""
    for key, value in hub.summary_publisher.take():
        await hub.summary_topic.send(key=key, value=value)


async def on_tick(hub: Hub) -> None:
    """Publish the clock of the partitions this worker judges, when it moved."""
    owned = {
        tp.partition for tp in hub.app.assignor.assigned_actives() if tp.topic == DOSSIER_EVENTS
    }
    hub.summary_publisher.clock({p: hub.judge.now_ms(p) for p in owned})
    await flush(hub)
