"""A consumer stopped with its broker gone, against a real broker of its own (it is stopped).

With a fetch under way and the broker away, aiokafka's `consumer.stop()` raises
CancelledError into the task that called it, though nobody cancelled that task
(aio-libs/aiokafka#647), and leaves its connections open. A CI run's judge stopped its
consumer so as the broker restarted in a commit, and ended for good. `stop_consumer` returns
instead, and finishes what `stop()` left."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from hub import broker
from hub.kafka_client import connection_options, stop_consumer
from hub.testing import LocalBroker
from hub.topics import ALERTS

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path / "broker") as kafka:
        yield kafka


class _Failed(logging.Handler):
    """Set once aiokafka's fetcher logs a failed fetch: the request then waits out its retry
    backoff, which `stop()` cancels and then awaits unguarded."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Failed fetch messages"):
            self.seen.set()


async def _cut_off(kafka: LocalBroker) -> AIOKafkaConsumer:
    """A consumer reading a partition, its broker then stopped, a failed fetch waiting to be
    retried."""
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False, retry_backoff_ms=5000, **connection_options(kafka.settings)
    )
    await consumer.start()
    tp = TopicPartition(ALERTS, 0)
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    await consumer.position(tp)  # known: what is pending is a fetch, not a position lookup
    await consumer.getmany(timeout_ms=500)
    failed = _Failed()
    fetcher_log = logging.getLogger("aiokafka.consumer.fetcher")
    fetcher_log.addHandler(failed)
    try:
        broker.stop(kafka.settings)
        await asyncio.wait_for(failed.seen.wait(), 30.0)
    finally:
        fetcher_log.removeHandler(failed)
    assert [t for t in consumer._fetcher._pending_tasks if not t.done()]
    return consumer


async def test_a_consumer_stops_with_its_broker_gone(own_broker: LocalBroker) -> None:
    consumer = await _cut_off(own_broker)
    await asyncio.wait_for(stop_consumer(consumer), 30.0)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    assert all(t.done() for t in consumer._fetcher._pending_tasks)
    assert not any(conn.connected() for conn in consumer._client._conns.values())
    await asyncio.sleep(0.2)  # the task goes on: nothing was left to cancel it later
    assert not task.done()


async def test_a_cancelled_task_stopping_a_consumer_stays_cancelled(
    own_broker: LocalBroker,
) -> None:
    consumer = await _cut_off(own_broker)
    stopping = asyncio.create_task(stop_consumer(consumer))
    await asyncio.sleep(0)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert stopping.cancelled()
