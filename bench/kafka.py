"""The bench's feeds (simulated province traffic, rendered once) and what it asks Kafka:
producing them, counting records, the time span of a topic's output, offsets caught up."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.domain.calendar import WorkingCalendar
from hub.settings import DATA_DIR, Settings
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.simulate.formats import TOPICS, render
from hub.simulate.province import SimConfig, Simulation, load_catalogue
from hub.simulate.publish import message_key
from hub.testing import Record, committed_offsets, end_offsets, partitions, produce
from hub.topics import DOSSIER_EVENTS, INBOUND_TOPICS, create_topics, topic_partitions

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOGUE = load_catalogue(DATA_DIR / "procedures.csv")
_T = TypeVar("_T")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    return asyncio.run(coro)


# --- feeds ---------------------------------------------------------------------------------


@dataclass
class Feed:
    records: list[Record]
    dossiers: list[str]  # the dossier key of each record
    dossier_count: int
    seconds: float  # generation + rendering time


def make_feed(dossiers: int, days: int, start: date, seed: int, limit: int | None = None) -> Feed:
    started = time.perf_counter()
    cfg = SimConfig(
        seed=seed, dossiers=dossiers, days=days, start=start, security_code=DEFAULT_SECURITY_CODE
    )
    records: list[Record] = []
    keys: list[str] = []
    for msg in Simulation(cfg, CATALOGUE, CAL).messages():
        data = render(msg, security_code=cfg.security_code, max_bytes=cfg.max_message_bytes)
        records.append((TOPICS[msg.source], message_key(msg), data))
        keys.append(msg.dossier.key)
        if limit is not None and len(records) >= limit:
            break
    return Feed(records, keys, dossiers, time.perf_counter() - started)


# --- Kafka ---------------------------------------------------------------------------------


async def produce_all(bootstrap: str, records: list[Record]) -> float:
    """Messages/s, producer start-up included."""
    started = time.perf_counter()
    count = await produce(bootstrap, records)
    return count / (time.perf_counter() - started)


async def topic_total(bootstrap: str, topic: str) -> int:
    parts = await partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        begins = await consumer.beginning_offsets(parts)
        return sum(ends[tp] - begins[tp] for tp in parts)
    finally:
        await consumer.stop()


async def edge_timestamps(
    bootstrap: str,
    topic: str,
    keep: Callable[[Any], bool] = lambda r: True,
    window: int = 400,
) -> tuple[int | None, int | None]:
    """(min, max) record timestamp in ms of records `keep` accepts, looking at the first and last
    `window` records of each partition."""
    parts = await partitions(bootstrap, [topic])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    low: int | None = None
    high: int | None = None
    try:
        consumer.assign(parts)
        begins = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            for first, last in (
                (begins[tp], min(ends[tp], begins[tp] + window)),
                (max(begins[tp], ends[tp] - window), ends[tp]),
            ):
                if first >= last:
                    continue
                consumer.seek(tp, first)
                pos = first
                while pos < last:
                    batch = await consumer.getmany(tp, timeout_ms=2000)
                    recs = batch.get(tp, [])
                    if not recs:
                        break
                    for r in recs:
                        pos = r.offset + 1
                        if r.offset < last and keep(r):
                            low = r.timestamp if low is None else min(low, r.timestamp)
                            high = r.timestamp if high is None else max(high, r.timestamp)
    finally:
        await consumer.stop()
    return low, high


async def create_extra(bootstrap: str, names: list[str]) -> None:
    """Topics of the bench's own (6 partitions), unless they exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, 6, 1) for t in names if t not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def reset_topics(cfg: Settings, extra: Iterable[str] = ()) -> None:
    """Delete the hub's topics (and `extra`), then create the hub's again: an empty feed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in [*topic_partitions(cfg), *extra] if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
        for _ in range(60):
            if not set(await admin.list_topics()) & set(doomed):
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    for attempt in range(20):
        try:
            await create_topics(cfg)
            return
        except Exception:
            if attempt == 19:
                raise
            await asyncio.sleep(1.0)


def wait_caught_up(
    boot: str,
    group: str,
    timeout: float,
    every: float = 1.0,
    on_poll: Callable[[], None] = lambda: None,
    progress: list[tuple[float, int]] | None = None,
) -> float:
    """Wait until the intake of app `group` has committed every inbound message, and `group`
    every dossier event that existed by then; return the seconds waited (nan: timed out).
    `on_poll` runs at each look, every `every` seconds; `progress`, if given, gets (time, records
    of hub.dossier.events the judge has committed) at each look."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    ends_in = run(end_offsets(boot, INBOUND_TOPICS.values()))
    events_end: dict[TopicPartition, int] | None = None
    while time.monotonic() < deadline:
        on_poll()
        committed = run(committed_offsets(boot, f"{group}-judge"))
        if progress is not None:
            judged = sum(at for tp, at in committed.items() if tp.topic == DOSSIER_EVENTS)
            progress.append((time.perf_counter(), judged))
        if events_end is None:
            intake = run(committed_offsets(boot, f"{group}-intake"))
            if all(intake.get(tp, 0) >= end for tp, end in ends_in.items()):
                events_end = run(end_offsets(boot, [DOSSIER_EVENTS]))
                continue
        elif all(committed.get(tp, 0) >= end for tp, end in events_end.items()):
            return time.perf_counter() - started
        time.sleep(every)
    return float("nan")
