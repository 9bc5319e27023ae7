"""Province-wide statistics across workers: dossier summaries on a compacted topic.

Design. A dossier lives on one partition of `hub.dossier.events`, judged by the one worker that
owns it; the execution map needs every dossier. So:

    judge (owner of the dossier's partition) --summary, keyed by dossier code--> hub.dossier.summary
                                                                                   (compacted)
    every worker: SummaryStore = its own aiokafka consumer, all partitions, from the beginning,
                  no consumer group -> a store dossier code -> Summary (RocksDB under
                  MOTCUA_DATA_DIR, or memory), with the §7 aggregates kept as it reads

- `SummaryPublisher` (hub/stream/publisher.py) is the judge's hook that writes them.
- The judge's clock also goes there: on each tick, for every partition this worker judges, the key
  `\\x00clock/<partition>` with the partition's "now" (event-clock watermark, or wall clock less
  the allowed lateness) when it moved. Readers take the highest: the instant the statistics are
  computed "as of" (under `MOTCUA_CLOCK=wall` a reader uses its worker's injected clock).
- `SummaryStore` (an app task of every worker) reads the topic with a consumer of its
  own, not in the app's group: every worker gets every partition and the same map, whatever the
  partition assignment, and rebalances do not touch it. Any worker answers `/api/units` for any
  period from it: from the maintained aggregates (hub/domain/aggregates.py) where they cover
  the period, else by scanning the period's summaries in the received-time index.
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
import logging
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import TypeAdapter

from hub.domain.aggregates import Aggregates, PeriodScan
from hub.domain.stats import Summary, ms
from hub.kafka_client import connection_options, stop_consumer
from hub.metrics import HubMetrics
from hub.protocol import (
    WORKER_PREFIX,
    ProtocolError,
    WorkerEntry,
    clock_partition,
    parse_summary_clock,
    parse_worker,
)
from hub.settings import ClockMode, Settings, StateStore
from hub.stream.clock import Clock
from hub.stream.summary_db import MemoryKV, OrderedKV, RocksKV
from hub.topics import DOSSIER_SUMMARY

log = logging.getLogger(__name__)


def consumer_options(settings: Settings) -> dict[str, Any]:
    """A reader of what the judge writes (its transactions): what committed, nothing else."""
    return {
        **connection_options(settings),
        "client_id": f"{settings.app_id}-summaries",
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        # a fetch's bytes sit in memory until read: the default (50 MB) is a worker's margin
        "fetch_max_bytes": 8 * 1024 * 1024,
    }


# the store's key space (hub/stream/summary_db.py): one byte says what a key is
_SUMMARY_KEY = b"s"  # + dossier code -> the partition (2 bytes) + the summary as read
# + received (8 bytes, ms) + dossier code -> the summary again: the received-time index, read in
# key order (a period scanned by point reads of its summaries ran at ~1 ms a dossier at 1 M,
# each read a block cache miss; twice the summaries' bytes on disk)
_RECEIVED_KEY = b"r"
_POSITION_KEY = b"o"  # + partition -> the next offset to read (8 bytes)
_CLOCK_KEY = b"k"  # + partition -> the partition's "now" (8 bytes, ms)
_WORKER_KEY = b"w"  # + instance -> its worker entry as read
_COUNT_KEY = b"n"  # -> how many summaries are stored (8 bytes)
# -> the aggregates as counted from exactly the stored summaries: written at a clean stop,
# deleted by the first write after (a start finds it only when nothing changed since)
_AGGREGATES_KEY = b"a"
_PART = struct.Struct(">H")
_U64 = struct.Struct(">Q")
_TRUSTED = TypeAdapter(Summary)  # what the store holds was checked by Summary.loads when read
LOAD_CHUNK = 5000  # summaries counted between two yields to the event loop at start
SCAN_CHUNK = 2000  # summaries of a period scanned between two yields


def _received_key(received: int, code: str) -> bytes:
    return _RECEIVED_KEY + _U64.pack(received) + code.encode()


def _decode(stored: bytes) -> Summary:
    return _TRUSTED.validate_json(stored[_PART.size :])


class SummaryStore:
    """Every dossier's latest summary, read from the compacted topic (all partitions), kept in a
    local store with the consumer's positions, and the §7 aggregates maintained over it.

    `run()` opens the store (RocksDB under MOTCUA_STATE_STORE=rocksdb), counts the stored
    summaries into the aggregates, then reads the topic from the stored positions until
    cancelled (the worker runs it as an app task)."""

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
        self.kv: OrderedKV = MemoryKV()  # until `open()`
        self.summaries = SummaryMap(self)
        self.partition_of = PartitionMap(self)
        self.count = 0
        self.clocks: dict[int, int] = {}
        self.workers: dict[str, WorkerEntry] = {}  # instance -> what it judges, its web url
        self.positions: dict[int, int] = {}  # partition -> the next offset to read
        self.aggregates: Aggregates | None = None  # once a "now" is known
        self.loaded = False  # the stored summaries are counted in the aggregates
        self.lag: dict[int, int] = {}
        self.read_messages = 0
        self.started_reading: float | None = None
        self.caught_up = False
        self._cache: OrderedDict[str, Summary] = OrderedDict()
        self._consumer: AIOKafkaConsumer | None = None
        self._opened = False
        self._snapshot = False  # the stored aggregates are those of the stored summaries

    # -- the local store ----------------------------------------------------------------------
    def open(self) -> None:
        """Open the configured store, once, and read what it keeps besides the summaries."""
        if self._opened:
            return
        self._opened = True
        if self.settings.state_store is StateStore.ROCKSDB:
            self.kv = RocksKV(
                self.settings.state_dir("summaries"), self.settings.rocksdb_block_cache_mb
            )
        raw = self.kv.get(_COUNT_KEY)
        self.count = _U64.unpack(raw)[0] if raw else 0
        for key, value in self.kv.scan(_POSITION_KEY, _POSITION_KEY + b"\xff"):
            self.positions[_PART.unpack(key[1:])[0]] = _U64.unpack(value)[0]
        for key, value in self.kv.scan(_CLOCK_KEY, _CLOCK_KEY + b"\xff"):
            self.clocks[_PART.unpack(key[1:])[0]] = _U64.unpack(value)[0]
        for key, value in self.kv.scan(_WORKER_KEY, _WORKER_KEY + b"\xff"):
            with contextlib.suppress(ProtocolError, ValueError):
                self.workers[key[1:].decode()] = parse_worker(value)

    def close(self) -> None:
        self.kv.close()

    def get(self, code: str) -> Summary | None:
        """A dossier's summary (decoded on demand; the latest ones kept in a bounded LRU)."""
        cached = self._cache.get(code)
        if cached is not None:
            self._cache.move_to_end(code)
            return cached
        stored = self.kv.get(_SUMMARY_KEY + code.encode())
        if stored is None:
            return None
        summary = _decode(stored)
        self._remember(code, summary)
        return summary

    def _remember(self, code: str, summary: Summary) -> None:
        if self.settings.summary_cache_entries <= 0:
            return
        self._cache[code] = summary
        self._cache.move_to_end(code)
        while len(self._cache) > self.settings.summary_cache_entries:
            self._cache.popitem(last=False)

    def stored(self, lo: bytes = b"", hi: bytes = b"\xff") -> Iterator[tuple[str, int, bytes]]:
        """(code, partition, stored bytes) of the summaries whose codes lie in [lo, hi)."""
        for key, value in self.kv.scan(_SUMMARY_KEY + lo, _SUMMARY_KEY + hi):
            yield key[1:].decode(), _PART.unpack_from(value)[0], value

    def in_partitions(self, partitions: set[int]) -> Iterator[Summary]:
        """The summaries of the dossiers of some partitions (decoding only those)."""
        for _, partition, value in self.stored():
            if partition in partitions:
                yield _decode(value)

    def received_in(self, start: datetime | None, end: datetime | None) -> Iterator[Summary]:
        """The summaries of the dossiers received in `[start, end)`, by the received index:
        proportional to the period, not to the province."""
        lo = _U64.pack(max(0, ms(start))) if start is not None else b""
        hi = _U64.pack(max(0, ms(end))) if end is not None else b"\xff"
        for key, value in self.kv.scan(_RECEIVED_KEY + lo, _RECEIVED_KEY + hi):
            # decoded, not cached: a long period would flush the LRU
            if value:
                yield _TRUSTED.validate_json(value)
            elif (stored := self.kv.get(_SUMMARY_KEY + key[1 + _U64.size :])) is not None:
                yield _decode(stored)  # an index entry written without its summary

    def disk_bytes(self) -> int:
        return self.kv.disk_bytes()

    # -- reading ------------------------------------------------------------------------------
    def apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        """One record, stored at once (tests; `run()` stores a fetch at a time)."""
        self.apply_batch([(partition, key, value)], {})

    def apply_batch(
        self, records: Iterable[tuple[int, bytes | None, bytes | None]], positions: dict[int, int]
    ) -> None:
        """Records of the topic and the positions after them: one atomic write."""
        changes: dict[bytes, bytes | None] = {}
        for partition, key, value in records:
            self.read_messages += 1
            try:
                self._apply(partition, key, value, changes)
            except (ProtocolError, ValueError, KeyError, TypeError, RecursionError) as exc:
                # another program's record, or a bug's: counted and skipped, never fatal
                log.warning("skipped a record on %s: %s", DOSSIER_SUMMARY, exc)
                if self.metrics is not None:
                    self.metrics.skipped.labels(DOSSIER_SUMMARY).inc()
        for partition, offset in positions.items():
            changes[_POSITION_KEY + _PART.pack(partition)] = _U64.pack(offset)
        self.positions.update(positions)
        changes[_COUNT_KEY] = _U64.pack(self.count)
        if self._snapshot:
            changes[_AGGREGATES_KEY] = None
            self._snapshot = False
        self.kv.write(changes.items())

    def _apply(
        self,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        changes: dict[bytes, bytes | None],
    ) -> None:
        if not key:
            raise ProtocolError("a summary record without a key")
        if key.startswith(WORKER_PREFIX):
            name = key[len(WORKER_PREFIX) :].decode()
            if value is None:
                self.workers.pop(name, None)
            else:
                self.workers[name] = parse_worker(value)
            changes[_WORKER_KEY + name.encode()] = value
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
                changes[_CLOCK_KEY + _PART.pack(p)] = _U64.pack(self.clocks[p])
            return
        code = key.decode()
        summary = None
        if value is not None:
            summary = Summary.loads(value)
            if summary.code != code:
                raise ProtocolError(
                    f"a summary of {summary.code[:60]!r} under the key {code[:60]!r}"
                )
        skey = _SUMMARY_KEY + key
        before = changes[skey] if skey in changes else self.kv.get(skey)
        old = _decode(before) if before is not None else None
        if self.aggregates is not None:
            self.aggregates.update(old, summary)
        moved = summary is None or old is None or summary.received != old.received
        if old is not None and old.received is not None and moved:
            changes[_received_key(old.received, code)] = None
        self._cache.pop(code, None)
        if summary is None:  # tombstone
            changes[skey] = None
            self.count -= old is not None
            return
        changes[skey] = _PART.pack(partition) + value  # type: ignore[operator]
        if summary.received is not None:
            changes[_received_key(summary.received, code)] = value
        self.count += old is None

    async def _open(self) -> AIOKafkaConsumer:
        """Subscribed without a group: aiokafka assigns every partition; each is then moved to
        its stored position (the others start from the beginning). A fetch already under way
        from the beginning is dropped by the consumer: its offset is no longer the position."""
        while True:
            consumer = self._factory()
            try:
                await consumer.start()
                consumer.subscribe([DOSSIER_SUMMARY])
                while not consumer.assignment():
                    await asyncio.sleep(0.05)
                tps = sorted(consumer.assignment())
                for tp in tps:
                    if tp.partition in self.positions:
                        consumer.seek(tp, self.positions[tp.partition])
                log.info(
                    "reading %s from offsets %s",
                    DOSSIER_SUMMARY,
                    {tp.partition: self.positions.get(tp.partition, 0) for tp in tps},
                )
                return consumer
            except Exception as exc:
                log.warning("summary reader cannot start yet: %r", exc)
                with contextlib.suppress(Exception):
                    await stop_consumer(consumer)
                await asyncio.sleep(1.0)

    async def load(self) -> None:
        """Count the stored summaries into the aggregates, yielding to the event loop now and
        then (the web answers meanwhile, with what is counted so far)."""
        self.open()
        started = time.monotonic()
        now = self._now_ms()
        how = "counted"
        blob = self.kv.get(_AGGREGATES_KEY)
        saved = Aggregates.restore(blob) if blob is not None else None
        if now is not None and saved is not None and saved.now <= now:
            self.aggregates, how = saved, "restored"
            self._snapshot = True
            saved.advance(now, self.get)
        elif now is not None:
            agg = self.aggregates = Aggregates(now)
            for n, (_, _, value) in enumerate(self.stored(), 1):
                agg.update(None, _decode(value))
                if n % LOAD_CHUNK == 0:
                    await asyncio.sleep(0)
        self.loaded = True
        log.info(
            "summary store: %d dossiers %s in %.1f s (%s)",
            self.count,
            how,
            time.monotonic() - started,
            self.settings.state_store.value,
        )

    def save(self) -> None:
        """Keep the aggregates beside the summaries they were counted from (a clean stop):
        the next start restores them instead of counting every summary again."""
        if self.loaded and self.aggregates is not None and not self._snapshot:
            started = time.monotonic()
            self.kv.write([(_AGGREGATES_KEY, self.aggregates.dump())])
            self._snapshot = True
            log.info("summary aggregates saved in %.1f s", time.monotonic() - started)

    async def run(self) -> None:
        await self.load()
        consumer = self._consumer = await self._open()
        self.started_reading = time.monotonic()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                records = [
                    (tp.partition, m.key, m.value) for tp, ms_ in batches.items() for m in ms_
                ]
                positions = {tp.partition: await consumer.position(tp) for tp in batches}
                if records:
                    self.apply_batch(records, positions)
                for tp in batches:
                    await self._note_lag(consumer, tp)
                if not batches:
                    for tp in consumer.assignment():
                        await self._note_lag(consumer, tp)
                    if all(v <= 0 for v in self.lag.values()):
                        self.caught_up = True
                if self.aggregates is None:
                    # the first "now" (event clock): counted then. Later ones are the requests'
                    # (rounded to a tick by the web face): advancing here to a finer instant
                    # would make theirs go back
                    self.refresh()
        finally:
            self._consumer = None
            await stop_consumer(consumer)
            self.save()

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

    def _now_ms(self) -> int | None:
        """The store's own "now" for the aggregates, at the tick's resolution under the wall
        clock, as the web face asks (hub/web/cache.py `tick_instant`): counted at a finer
        instant, the requests' "now" would be behind them, and that costs a recount."""
        now = self.as_of()
        if now is None:
            return None
        if self.settings.clock is not ClockMode.WALL:
            return ms(now)
        tick_ms = max(1, round(self.settings.tick_interval_s * 1000))
        return int(now.timestamp() * 1000) // tick_ms * tick_ms

    def refresh(self, now: int | None = None) -> None:
        """Bring the aggregates to `now` (default: the store's "now"): built at the first
        "now" known, rebuilt if it went backwards (a wall clock set back)."""
        now = self._now_ms() if now is None else now
        if now is None:
            return
        agg = self.aggregates
        if agg is not None and now >= agg.now:
            # also while `load` counts: what it adds later is added at the new "now"
            agg.advance(now, self.get)
            return
        if not self.loaded:
            return  # `load` builds them
        if agg is not None:
            log.warning("the statistics' now went back (%d < %d): recounting", now, agg.now)
        started = time.monotonic()
        agg = Aggregates(now)
        for _, _, value in self.stored():
            agg.update(None, _decode(value))
        self.aggregates = agg
        log.info("summary aggregates counted in %.1f s", time.monotonic() - started)

    async def unit_rows(
        self,
        start: datetime | None,
        end: datetime | None,
        now: datetime | None,
        *,
        by_procedure: bool = False,
        unit: str | None = None,
    ) -> list[dict[str, Any]]:
        """`unit_stats(every summary, start, end, now, ...)`: from the aggregates when the
        period ends at or after now on local midnights, else from the period's dossiers, read
        by the received-time index a chunk at a time (a long period of a province takes
        seconds: the judge and the reader go on meanwhile, on the same event loop)."""
        if now is not None:
            self.refresh(ms(now))
            if self.aggregates is not None:
                rows = self.aggregates.rows(
                    start, end, ms(now), by_procedure=by_procedure, unit=unit
                )
                if rows is not None:
                    return rows
        scan = PeriodScan(start, end, now, unit)
        for n, summary in enumerate(self.received_in(start, end), 1):
            scan.add(summary)
            if n % SCAN_CHUNK == 0:
                await asyncio.sleep(0)
        return scan.rows(by_procedure)

    def open_summaries(self, unit: str, now: datetime) -> list[Summary]:
        """The unit's dossiers received and not closed at `now` (and some not received yet),
        in code order: from the aggregates' open index, not a scan of the province."""
        self.refresh(ms(now))
        agg = self.aggregates
        if agg is None:  # a store never loaded (a report, a test): its few summaries
            return sorted((s for s in self.summaries.values() if s.unit == unit), key=_code)
        # (the index is at `agg.now`, `now` itself but while a recount waits for `load`: the
        # caller reads each dossier at `now`)
        found = (self.get(code) for code in agg.open_codes(unit))
        return [s for s in found if s is not None]

    def owner_url(self, partition: int) -> str | None:
        """The web url of the worker that said last that it judges `partition`."""
        owners = [w for w in self.workers.values() if partition in w.partitions]
        return max(owners, key=lambda w: w.at_ms).url if owners else None

    def status(self) -> dict[str, Any]:
        return {
            "dossiers": self.count,
            "messages_read": self.read_messages,
            "lag": sum(self.lag.values()),
            "caught_up": self.caught_up,
            "loaded": self.loaded,
            "store": self.settings.state_store.value,
        }


def _code(s: Summary) -> str:
    return s.code


class SummaryMap(Mapping[str, Summary]):
    """The store's summaries as a read-only mapping code -> Summary, decoded on demand.
    Iterating it reads every stored summary: the statistics use `unit_rows` instead."""

    def __init__(self, store: SummaryStore) -> None:
        self._store = store

    def __getitem__(self, code: str) -> Summary:
        summary = self._store.get(code)
        if summary is None:
            raise KeyError(code)
        return summary

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str):
            return False
        return self._store.kv.get(_SUMMARY_KEY + code.encode()) is not None

    def __iter__(self) -> Iterator[str]:
        for code, _, _ in self._store.stored():
            yield code

    def __len__(self) -> int:
        return self._store.count

    def values(self) -> ValuesView[Summary]:
        return _Values(self)

    def items(self) -> ItemsView[str, Summary]:
        return _Items(self)

    def scan(self) -> Iterator[tuple[str, Summary]]:
        for code, _, value in self._store.stored():
            yield code, _decode(value)


class _Values(ValuesView[Summary]):
    _mapping: SummaryMap

    def __iter__(self) -> Iterator[Summary]:
        for _, summary in self._mapping.scan():
            yield summary


class _Items(ItemsView[str, Summary]):
    _mapping: SummaryMap

    def __iter__(self) -> Iterator[tuple[str, Summary]]:
        yield from self._mapping.scan()


class PartitionMap(Mapping[str, int]):
    """Dossier code -> the partition its summary was read from (its dossier's partition)."""

    def __init__(self, store: SummaryStore) -> None:
        self._store = store

    def __getitem__(self, code: str) -> int:
        stored = self._store.kv.get(_SUMMARY_KEY + code.encode())
        if stored is None:
            raise KeyError(code)
        partition: int = _PART.unpack_from(stored)[0]
        return partition

    def __iter__(self) -> Iterator[str]:
        for code, _, _ in self._store.stored():
            yield code

    def __len__(self) -> int:
        return self._store.count
