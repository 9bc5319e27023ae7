"""Taking a batch from a consumer: what the intake and the judge loop share."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer

from hub.stream import fencing


async def take_batch(
    consumer: AIOKafkaConsumer, batch_max: int, within_s: float, timeout_ms: int = 1000
) -> tuple[dict[Any, list[Any]], fencing.Membership | None]:
    """Up to `batch_max` records, gathered for at most `within_s` once the first one is in:
    one transaction (one acknowledgement wait) serves the whole batch. With the group
    membership they were read in (None: read as the consumer was dropped from its group), which
    their transaction's offsets must carry (fencing.stamp).

    The membership is read as each `getmany` returns, with nothing awaited in between: the
    records it gives belong to the assignment of that generation (aiokafka gives none while a
    rebalance is under way, nor any fetched for an assignment since replaced). Read once the
    batch is gathered, it could be a later generation's: records read before a rebalance, whose
    partitions' new owner starts from the committed offset before them (this consumer too, for
    the partitions it keeps: the new assignment fetches its positions afresh), would then commit
    under a membership the coordinator accepts, and be done twice. So when the membership
    changes while the batch is gathered, what was read before is dropped (its assignment is
    gone, and whoever owns its partitions now reads it again) and the batch goes on with the
    new generation's records."""
    batches: dict[Any, list[Any]] = await consumer.getmany(
        timeout_ms=timeout_ms, max_records=batch_max
    )
    member = fencing.membership_or_none(consumer)  # no await since getmany: the one read in
    taken = sum(len(m) for m in batches.values())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while batches and taken < batch_max and (left := deadline - loop.time()) > 0:
        more = await consumer.getmany(
            timeout_ms=max(1, int(left * 1000)), max_records=batch_max - taken
        )
        now = fencing.membership_or_none(consumer)
        if now != member:  # a rebalance meanwhile: what was read before is not ours to commit
            batches, taken, member = {}, 0, now
        if not more:
            break
        for tp, messages in more.items():
            batches.setdefault(tp, []).extend(messages)
            taken += len(messages)
    return batches, member
