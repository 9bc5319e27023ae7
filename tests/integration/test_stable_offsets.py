"""KIP-447's other half against the real broker: a consumer taking over a partition does not
start from the committed offset while a transaction holding offsets for it is still open (the
old owner stalled between sending its batch's offsets and committing), but waits until that
transaction commits or aborts (hub/stream/fencing.py)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hub.settings import Settings
from hub.stream import fencing
from hub.topics import ALERTS

pytestmark = pytest.mark.kafka


async def _pending(bootstrap: str, tp: TopicPartition, group: str, offset: int) -> AIOKafkaProducer:
    """A transactional producer whose open transaction holds `offset` for `group`."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"stable-{uuid.uuid4().hex}"
    )
    await producer.start()
    await producer.begin_transaction()
    await producer.send_offsets_to_transaction({tp: offset}, group)
    return producer


async def test_a_new_owner_waits_for_the_open_transactions_offsets(
    kafka_topics: str, kafka_settings: Settings
) -> None:
    fencing.install()
    assert fencing.installed()
    tp = TopicPartition(ALERTS, 0)
    group = f"stable-{uuid.uuid4().hex}"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_topics, group_id=group)
    await consumer.start()
    try:
        producer = await _pending(kafka_topics, tp, group, 5)
        fetch = asyncio.ensure_future(consumer.committed(tp))
        await asyncio.sleep(2.0)
        assert not fetch.done(), "read the committed offset past an open transaction"
        await producer.commit_transaction()
        assert await asyncio.wait_for(fetch, 15) == 5
        await producer.stop()

        # an aborted transaction's offsets never count: the fetch then gives the last commit
        producer = await _pending(kafka_topics, tp, group, 9)
        fetch = asyncio.ensure_future(consumer.committed(tp))
        await asyncio.sleep(2.0)
        assert not fetch.done()
        await producer.abort_transaction()
        assert await asyncio.wait_for(fetch, 15) == 5
        await producer.stop()
    finally:
        await consumer.stop()
