"""`simulate` against a real Kafka: every message arrives, byte for byte, in order per topic."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.domain.calendar import WorkingCalendar
from hub.settings import DATA_DIR, Settings
from hub.simulate.province import SOURCES, SimConfig, Simulation, load_catalogue
from hub.simulate.publish import iter_rendered, publish

pytestmark = pytest.mark.kafka

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOGUE = load_catalogue(DATA_DIR / "procedures.csv")


async def _fresh_topics(bootstrap: str) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    topics = {s: f"sim-{run}.{s}" for s in SOURCES}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
    finally:
        await admin.close()
    return topics


async def _consume(bootstrap: str, topics: dict[str, str], total: int) -> dict[str, list[bytes]]:
    consumer = AIOKafkaConsumer(
        *topics.values(), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None, fetch_max_bytes=8 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    got: dict[str, list[bytes]] = defaultdict(list)
    try:
        deadline = time.monotonic() + 60
        while sum(len(v) for v in got.values()) < total and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                got[tp.topic] += [r.value for r in records if r.value is not None]
    finally:
        await consumer.stop()
    return got


async def test_publish_as_fast_as_possible(kafka_bootstrap: str, kafka_settings: Settings) -> None:
    topics = await _fresh_topics(kafka_bootstrap)
    config = SimConfig(seed=21, dossiers=120, days=10, malformed_share=0.05)
    want: dict[str, list[bytes]] = defaultdict(list)
    for msg, data in iter_rendered(Simulation(config, CATALOGUE, CAL)):
        want[topics[msg.source]].append(data)
    stats = await publish(Simulation(config, CATALOGUE, CAL), kafka_settings, None, topics)
    assert stats.messages == sum(len(v) for v in want.values())
    got = await _consume(kafka_bootstrap, topics, stats.messages)
    assert dict(got) == dict(want)


async def test_publish_accelerated(kafka_bootstrap: str, kafka_settings: Settings) -> None:
    topics = await _fresh_topics(kafka_bootstrap)
    config = SimConfig(seed=22, dossiers=10, days=1, start=SimConfig().start)
    sim = Simulation(config, CATALOGUE, CAL)
    sent = [m.sent_at for m, _ in iter_rendered(Simulation(config, CATALOGUE, CAL))]
    span = (sent[-1] - sent[0]).total_seconds()
    factor = span / 2.0  # the whole feed in about two seconds
    started = time.monotonic()
    stats = await publish(sim, kafka_settings, factor, topics)
    elapsed = time.monotonic() - started
    assert stats.messages == len(sent)
    assert 1.5 <= elapsed <= 15
