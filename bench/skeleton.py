"""The hub's record flow without the hub: what Kafka and asyncio cost one process, as a floor.

One process, one event loop, the loops a hub worker runs, with the hub's own client options
(hub/kafka_client.py), batch taking (hub/stream/batches.py) and batched produce
(hub/stream/outbound.py), but no decoding, judging, encoding or state:

- intake: reads the inbound topics (read committed, `MOTCUA_BATCH_MAX` records gathered for
  `MOTCUA_BATCH_WITHIN_S`) and writes each message's value as one "event" to an events topic,
  with a clock record to each of its partitions, in one transaction with the batch's offsets;
- judge: reads the events (read committed) and writes, for every event, the records a hub
  worker writes per inbound message in the same proportions (`PER_100_EVENTS`: changelog,
  summary, alert; the throughput section measures them), in one transaction with its offsets;
- summaries: reads the summary topic, as the worker's summary store does.

So the rate is the ceiling of a hub worker on this machine whatever its own code costs, and
its CPU per message is the part of the worker's that the hub's code cannot remove: what is left
of the budget for 7 000 msg/s (143 µs a message) is what the hub's own code may spend.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.kafka import create_extra, run
from hub.kafka_client import stage_consumer_options, transactional_producer_options
from hub.settings import Settings
from hub.stream.batches import take_batch
from hub.stream.outbound import Outbound

# of every 100 events the judge writes: changelog, summary and alert records (the throughput
# section's hub run at scale 0.004 wrote 0.41, 0.20 and 0.09 per inbound message, ~1 event each)
PER_100_EVENTS = {"changelog": 41, "summary": 20, "alert": 9}
CLOCK_KEY = b"\x00clock"
MAX_REQUEST = 1_000_000


def _topics(tag: str) -> dict[str, str]:
    return {name: f"bench.skeleton.{tag}.{name}" for name in ("events", *PER_100_EVENTS)}


async def _commit(out: Outbound, batches: dict[Any, list[Any]], group: str) -> None:
    """Hand the batch's records over, wait for them, and commit them with its offsets."""
    await asyncio.gather(*(f for _, _, f in await out.flush()))
    offsets = {tp: m[-1].offset + 1 for tp, m in batches.items() if m}
    await out.producer.send_offsets_to_transaction(offsets, group)
    await out.producer.commit_transaction()


async def _intake(
    cfg: Settings, tag: str, events: str, inbound: list[str], n: int, times: list[float]
) -> None:
    producer = AIOKafkaProducer(
        **transactional_producer_options(cfg, f"skeleton-{tag}-intake", MAX_REQUEST)
    )
    group = f"skeleton-{tag}-intake"
    consumer = AIOKafkaConsumer(*inbound, **stage_consumer_options(cfg, group))
    await producer.start()
    await consumer.start()
    out = Outbound(producer)
    done = 0
    try:
        partitions = await out.partitions(events)
        while done < n:
            batches, _ = await take_batch(consumer, cfg.batch_max, cfg.batch_within_s)
            if not batches:
                continue
            await producer.begin_transaction()
            if not times:
                times.append(time.perf_counter())  # the first message in hand
            for messages in batches.values():
                for msg in messages:
                    await out.add(events, msg.value, msg.key)
                    done += 1
            for p in partitions:
                await out.add(events, b"{}", CLOCK_KEY, partition=p)
            await _commit(out, batches, group)
    finally:
        await consumer.stop()
        await producer.stop()


async def _judge(
    cfg: Settings, tag: str, topics: dict[str, str], n: int, times: list[float]
) -> None:
    producer = AIOKafkaProducer(
        **transactional_producer_options(cfg, f"skeleton-{tag}-judge", MAX_REQUEST)
    )
    group = f"skeleton-{tag}-judge"
    consumer = AIOKafkaConsumer(topics["events"], **stage_consumer_options(cfg, group))
    await producer.start()
    await consumer.start()
    out = Outbound(producer)
    seen = 0
    try:
        while seen < n:
            batches, _ = await take_batch(consumer, cfg.batch_max, cfg.batch_within_s)
            if not batches:
                continue
            await producer.begin_transaction()
            for messages in batches.values():
                for msg in messages:
                    if msg.key == CLOCK_KEY:
                        continue
                    i = seen % 100
                    seen += 1
                    for name, per_100 in PER_100_EVENTS.items():
                        if i < per_100:
                            await out.add(topics[name], msg.value, msg.key)
            await _commit(out, batches, group)
        times.append(time.perf_counter())  # the last event's records committed
    finally:
        await consumer.stop()
        await producer.stop()


async def _summaries(cfg: Settings, topic: str, stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        **{**stage_consumer_options(cfg, f"{topic}-reader"), "enable_auto_commit": True},
    )
    await consumer.start()
    try:
        while not stop.is_set():
            await consumer.getmany(timeout_ms=100, max_records=cfg.batch_max)
    finally:
        await consumer.stop()


async def _flow(
    cfg: Settings, tag: str, topics: dict[str, str], inbound: list[str], n: int
) -> list[float]:
    stop = asyncio.Event()
    times: list[float] = []
    reader = asyncio.create_task(_summaries(cfg, topics["summary"], stop))
    try:
        await asyncio.gather(
            _intake(cfg, tag, topics["events"], inbound, n, times),
            _judge(cfg, tag, topics, n, times),
        )
    finally:
        stop.set()
        await reader
    return times


def run_skeleton(cfg: Settings, inbound: list[str], n: int) -> dict[str, Any]:
    """The `n` messages already on the `inbound` topics, through the skeleton: its rate (the
    first message taken -> the last one's records committed; the group joins before are not
    counted, as the hub's rate leaves out its start) and its CPU per message (start included)."""
    tag = str(int(time.time() * 1000))
    topics = _topics(tag)
    run(create_extra(cfg.kafka_bootstrap, list(topics.values())))
    cpu = time.process_time()
    first, last = run(_flow(cfg, tag, topics, inbound, n))
    cpu = time.process_time() - cpu
    seconds = last - first
    return {"msg_s": n / seconds, "seconds": seconds, "cpu_us_per_msg": cpu / n * 1e6}
