"""The records of one transaction, in record batches per partition, handed over a batch at a time.

aiokafka's `send()` costs about 8 µs a record in Python (a future each, the partitioner, the
accumulator's bookkeeping), and the hub writes about two records per inbound message; appending
to a batch builder costs about 1 µs. So each stage gathers its records here and gives the
producer whole batches (`send_batch`, which adds the partition to the open transaction as
`send()` does). What does not change:

- the partition of a keyed record is the producer's partitioner's (murmur2 of the key), looked
  up once per key while the topic's partition count stays the same; an unkeyed one goes where
  the partitioner puts it;
- a record over the producer's `max_request_size` is refused at `add`, with the error and the
  message `send()` raises (MessageSizeTooLargeError), so the callers' handling stays the same;
- the records of one partition keep their order (one open batch per partition; a full one is
  handed over and another started).

`flush()` hands over every open batch; each `Slot` then knows its batch's future, whose result
(RecordMetadata) gives the batch's first offset.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from hub.kafka_client import sender_gone

log = logging.getLogger(__name__)
ABORT_WAIT_S = 30.0  # an abort not done by then is left to the next producer
KEYS_CACHED = 200_000  # per topic: dossier codes seen lately; the cache starts again past it


class Slot:
    """Where one record went: its partition, and its batch (whose future is set once handed)."""

    __slots__ = ("batch", "index", "partition")

    def __init__(self, partition: int, batch: _Batch, index: int) -> None:
        self.partition = partition
        self.batch = batch
        self.index = index  # within the batch: its offset is the batch's first plus this

    @property
    def future(self) -> asyncio.Future[Any]:
        assert self.batch.future is not None, "flush() first"
        return self.batch.future


class _Batch:
    __slots__ = ("builder", "count", "future", "tp")

    def __init__(self, builder: Any, tp: TopicPartition) -> None:
        self.builder = builder
        self.tp = tp
        self.count = 0
        self.future: asyncio.Future[Any] | None = None


class Outbound:
    """Batches for one producer; one per stage, reused from transaction to transaction."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._open: dict[TopicPartition, _Batch] = {}
        self._handed: list[_Batch] = []
        # topic -> (partition count, key -> partition)
        self._keys: dict[str, tuple[int, dict[bytes, int]]] = {}
        self._known: set[str] = set()  # topics whose metadata the producer has
        # topic -> its partitions, as of the producer's partition map `_parts_of`
        self._parts: dict[str, list[int]] = {}
        self._parts_of: object = None

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions, as the producer knows them."""
        await self._metadata(topic)
        return sorted(self.producer._metadata.partitions_for_topic(topic) or ())

    async def _metadata(self, topic: str) -> None:
        if topic not in self._known:
            await self.producer.client._wait_on_metadata(topic)
            self._known.add(topic)

    def _partition(self, topic: str, key: bytes | None) -> int:
        producer = self.producer
        metadata = producer._metadata
        # aiokafka replaces its partition map at every metadata update: until it does, a topic's
        # partitions cannot have changed, and are not looked up (a set built per call)
        if metadata._partitions is not self._parts_of:
            self._parts_of = metadata._partitions
            self._parts.clear()
        parts = self._parts.get(topic)
        if parts is None:
            parts = list(metadata.partitions_for_topic(topic) or ())
            if not parts:
                raise RuntimeError(f"no partitions known for {topic}")
            self._parts[topic] = parts
        count = len(parts)
        known = self._keys.get(topic)
        if known is None or known[0] != count or len(known[1]) > KEYS_CACHED:
            known = self._keys[topic] = (count, {})
        if key is not None and (found := known[1].get(key)) is not None:
            return found
        available = list(metadata.available_partitions_for_topic(topic) or ())
        partition: int = producer._partitioner(key, list(parts), available)
        if key is not None:
            known[1][key] = partition
        return partition

    async def add(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> Slot:
        """Put a record in its partition's batch (a full batch is handed over first)."""
        producer = self.producer
        if headers is None:
            headers = []  # the record builder takes a list, nothing else
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
        if size > producer._max_request_size:
            raise MessageSizeTooLargeError(
                f"The message is {size} bytes when serialized which is "
                "larger than the maximum request size you have configured with "
                "the max_request_size configuration"
            )
        await self._metadata(topic)
        if partition is None:
            partition = self._partition(topic, key)
        tp = TopicPartition(topic, partition)
        batch = self._open.get(tp)
        if batch is not None:
            if batch.builder.append(timestamp=None, key=key, value=value, headers=headers):
                batch.count += 1
                return Slot(partition, batch, batch.count - 1)
            await self._hand(tp)
        batch = self._open[tp] = _Batch(producer.create_batch(), tp)
        # the first record of an empty batch always fits (its size was checked above)
        if not batch.builder.append(timestamp=None, key=key, value=value, headers=headers):
            raise RuntimeError(f"a {size}-byte record did not fit an empty batch")
        batch.count = 1
        return Slot(partition, batch, 0)

    async def _hand(self, tp: TopicPartition) -> None:
        batch = self._open.pop(tp)
        producer = self.producer
        batch.future = await producer.send_batch(batch.builder, tp.topic, partition=tp.partition)
        self._handed.append(batch)

    async def flush(self) -> list[tuple[TopicPartition, int, asyncio.Future[Any]]]:
        """Hand over every open batch; (partition, records, future) of each handed over since the
        last flush, in the order handed."""
        for tp in list(self._open):
            await self._hand(tp)
        handed, self._handed = self._handed, []
        return [(b.tp, b.count, b.future) for b in handed if b.future is not None]

    @property
    def open(self) -> bool:
        """Whether records were added since the last flush (they are in no transaction yet)."""
        return bool(self._open or self._handed)

    def drop(self) -> None:
        """Forget the open batches (an aborted transaction: nothing of them was handed over)."""
        self._open.clear()
        self._handed.clear()

    async def abort(self) -> None:
        """Forget the open batches and abort the producer's transaction, as far as it can be:
        the caller raises after it either way, and the stage's next producer (the same
        transactional id) aborts at its start whatever this one left open.

        aiokafka's sender routine can die (an unexpected error: a connection closed while it
        looked up the transaction coordinator, as the broker restarted in a commit), failing the
        transaction; its `abort_transaction` then waits for a sender that is gone, for ever (a
        CI run's worker hung so until killed). So an abort is not tried without a sender, nor
        waited for past ABORT_WAIT_S."""
        self.drop()
        if sender_gone(self.producer):
            log.warning("the producer's sender is gone: its transaction is left to the next one")
            return
        try:
            await asyncio.wait_for(self.producer.abort_transaction(), ABORT_WAIT_S)
        except Exception as exc:  # the broker away, the transaction failed: raised by the caller
            log.warning("aborting the transaction failed (%r): left to the next producer", exc)
