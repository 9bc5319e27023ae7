"""hub/stream/outbound.py against the real broker: records handed over in batches land where
`send()` would put them, in order, in the transaction, and a record too large is refused at
`add` as `send()` refuses it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

from hub.settings import Settings
from hub.stream.outbound import Outbound
from hub.topics import DOSSIER_EVENTS, create_topics

pytestmark = pytest.mark.kafka


async def _read(bootstrap: str, topic: str, want: int) -> list[tuple[int, int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        group_id=None,
    )
    await consumer.start()
    got: list[tuple[int, int, bytes, bytes]] = []
    try:
        while len(got) < want:
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                break
            for records in batches.values():
                got += [(r.partition, r.offset, r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return got


async def test_batches_land_where_send_puts_them_in_order(
    kafka_topics: str, kafka_settings: Settings
) -> None:
    await create_topics(kafka_settings)
    admin_producer = AIOKafkaProducer(bootstrap_servers=kafka_topics)
    await admin_producer.start()
    try:
        # the reference: where send() puts each key on a topic of several partitions
        await admin_producer.client._wait_on_metadata(DOSSIER_EVENTS)
        parts = admin_producer._metadata.partitions_for_topic(DOSSIER_EVENTS)
        assert parts is not None and len(parts) > 1
        keys = [f"dossier-{i % 37}".encode() for i in range(600)]
        expected = {k: admin_producer._partitioner(k, list(parts), list(parts)) for k in set(keys)}
    finally:
        await admin_producer.stop()

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_topics,
        transactional_id=f"outbound-{uuid.uuid4().hex}",
        max_request_size=20_000,
        max_batch_size=4_096,  # many full batches: each is handed over as it fills
    )
    await producer.start()
    try:
        out = Outbound(producer)
        await producer.begin_transaction()
        slots = []
        for i, key in enumerate(keys):
            value = f"{i:05d}".encode() + b"x" * 200
            slots.append(await out.add(DOSSIER_EVENTS, value, key, [("n", str(i).encode())]))
        with pytest.raises(MessageSizeTooLargeError):
            await out.add(DOSSIER_EVENTS, b"y" * 30_000, b"big")
        handed = await out.flush()
        assert sum(count for _, count, _ in handed) == len(keys)
        assert len(handed) > len(set(expected.values()))  # more than one batch a partition
        await producer.commit_transaction()
        firsts = {id(f): (await f).offset for _, _, f in handed}
    finally:
        await producer.stop()

    assert [s.partition for s in slots] == [expected[k] for k in keys]
    got = await _read(kafka_topics, DOSSIER_EVENTS, len(keys))
    mine = [g for g in got if g[3][5:6] == b"x"]
    assert len(mine) == len(keys)
    for p in set(expected.values()):
        in_partition = [int(v[:5]) for q, _, _, v in mine if q == p]
        assert in_partition == sorted(in_partition)  # the order they were added in
    for i, (partition, _, key, value) in enumerate(sorted(mine, key=lambda g: int(g[3][:5]))):
        assert (partition, key, int(value[:5])) == (expected[keys[i]], keys[i], i)
    # each slot's offset is its batch's first offset plus its index
    at = {(partition, offset): int(value[:5]) for partition, offset, _, value in mine}
    assert [at[(s.partition, firsts[id(s.future)] + s.index)] for s in slots] == list(
        range(len(keys))
    )


async def test_a_topic_given_more_partitions_is_partitioned_as_send_does_again(
    kafka_topics: str,
) -> None:
    topic = f"outbound-grown-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_topics)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_topics)
    await producer.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
        out = Outbound(producer)
        keys = [f"dossier-{i}".encode() for i in range(40)]

        async def placed() -> tuple[list[int], list[int]]:
            """Where Outbound puts each key, and where the producer's partitioner does."""
            got = [(await out.add(topic, b"v", key)).partition for key in keys]
            out.drop()
            parts = list(producer._metadata.partitions_for_topic(topic) or ())
            return got, [producer._partitioner(key, parts, parts) for key in keys]

        got, want = await placed()
        assert got == want and set(got) == {0, 1}
        await admin.create_partitions({topic: NewPartitions(6)})
        deadline = asyncio.get_running_loop().time() + 30
        while len(producer._metadata.partitions_for_topic(topic) or ()) < 6:
            assert asyncio.get_running_loop().time() < deadline, "the metadata never grew"
            await producer.client.force_metadata_update()
            await asyncio.sleep(0.2)
        got, want = await placed()
        assert got == want and len(set(got)) > 2  # the new count, not the keys kept before
    finally:
        await producer.stop()
        await admin.close()


async def test_an_abort_without_a_sender_does_not_wait_for_ever(kafka_topics: str) -> None:
    # aiokafka's sender routine dies on an unexpected error (a connection closed while it looked
    # up the transaction coordinator, as the broker restarted): its abort_transaction then
    # waits for it for ever, and a CI run's worker hung so, in the broker-restart fault test
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_topics, transactional_id=f"outbound-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        out = Outbound(producer)
        await producer.begin_transaction()
        await out.add(DOSSIER_EVENTS, b"v", b"k")
        sender = producer._sender.sender_task
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await asyncio.wait_for(out.abort(), 5.0)  # returns: the caller raises and restarts
        assert not out.open
    finally:
        await producer.stop()


async def test_an_abort_that_never_ends_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.stream import outbound

    async def never() -> None:
        await asyncio.Event().wait()

    alive = asyncio.get_running_loop().create_future()
    producer = SimpleNamespace(_sender=SimpleNamespace(sender_task=alive), abort_transaction=never)
    monkeypatch.setattr(outbound, "ABORT_WAIT_S", 0.2)
    await asyncio.wait_for(Outbound(producer).abort(), 5.0)  # type: ignore[arg-type]
    alive.cancel()
