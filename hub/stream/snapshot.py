"""The summary topic read once, from its start to its end: the province's dossiers at the moment
of reading, with no worker running (`motcua-hub report`).

What a worker's summary reader (hub/stream/summaries.py `SummaryStore`) keeps by reading the
topic for ever, this reads up to the end offsets the topic has when it starts (read committed:
up to the last stable offset, so only what the judges' transactions committed), with a consumer
of its own and no consumer group, into a `SummaryStore` left in memory (never opened on disk,
so it touches no worker's files) through its `apply_batch`: the same parsing, the same checks (a
bad record is counted and skipped), the same "as of" (the latest judge clock, or the injected
wall clock under `MOTCUA_CLOCK=wall`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from hub.errors import StopError
from hub.kafka_client import connection_options, connection_problem, stop_consumer
from hub.settings import Settings
from hub.stream.clock import Clock
from hub.stream.summaries import SummaryStore, consumer_options
from hub.topics import DOSSIER_SUMMARY


class SnapshotError(StopError):
    """The summary topic could not be read (the broker away, the topic missing)."""


async def _partitions(settings: Settings, timeout_s: float) -> list[TopicPartition]:
    """The summary topic's partitions, as the broker has them (a consumer knows a topic's
    partitions only once it subscribes; this asks directly). Raises KafkaError, OSError or
    TimeoutError when the broker cannot be reached."""
    admin = AIOKafkaAdminClient(
        **connection_options(settings),
        request_timeout_ms=round(timeout_s * 1000),
        client_id=f"{settings.app_id}-report",
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        described = await asyncio.wait_for(admin.describe_topics([DOSSIER_SUMMARY]), timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return sorted(
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["topic"] == DOSSIER_SUMMARY and not t["error_code"]
        for p in t["partitions"]
    )


async def read_summaries(settings: Settings, clock: Clock, timeout_s: float = 30.0) -> SummaryStore:
    """Every summary of the topic as it stands now; SnapshotError when it cannot be read (the
    broker not answering within `timeout_s`, or a read stalled that long)."""
    try:
        tps = await _partitions(settings, timeout_s)
    except (KafkaError, OSError, TimeoutError) as exc:
        # aiokafka says only "Unable to bootstrap": tell what is wrong with the connection
        problem = await connection_problem(settings)
        raise SnapshotError(f"cannot read {DOSSIER_SUMMARY}: {problem or repr(exc)}") from exc
    if not tps:
        raise SnapshotError(
            f"no topic {DOSSIER_SUMMARY} at {settings.kafka_bootstrap}: "
            "run `motcua-hub topics create` and a worker first"
        )
    store = SummaryStore(settings, clock)
    consumer = AIOKafkaConsumer(
        **{**consumer_options(settings), "client_id": f"{settings.app_id}-report"}
    )
    where = f"{DOSSIER_SUMMARY} at {settings.kafka_bootstrap}"
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
        todo = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=500, max_records=5000)
            if batches:
                deadline = time.monotonic() + timeout_s
            for tp, records in batches.items():
                # one write per fetch; no positions: this store lives only as long as the command
                store.apply_batch(
                    [(tp.partition, r.key, r.value) for r in records if r.offset < ends[tp]], {}
                )
            for tp in list(todo):
                # at the end: also when the last records were transaction markers
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
            if todo and time.monotonic() > deadline:
                raise SnapshotError(f"reading {where} stalled for {timeout_s:.0f} s")
    except (KafkaError, OSError, TimeoutError) as exc:
        raise SnapshotError(f"cannot read {where}: {exc!r}") from exc
    finally:
        with contextlib.suppress(Exception):
            await stop_consumer(consumer)
    return store
