"""Taking a batch from a consumer: what the intake and the judge loop share."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer


async def take_batch(
    consumer: AIOKafkaConsumer, batch_max: int, within_s: float, timeout_ms: int = 1000
) -> dict[Any, list[Any]]:
    """Up to `batch_max` records, gathered for at most `within_s` once the first one is in:
    one transaction (one acknowledgement wait) serves the whole batch."""
    batches: dict[Any, list[Any]] = await consumer.getmany(
        timeout_ms=timeout_ms, max_records=batch_max
    )
    taken = sum(len(m) for m in batches.values())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while batches and taken < batch_max and (left := deadline - loop.time()) > 0:
        more = await consumer.getmany(
            timeout_ms=max(1, int(left * 1000)), max_records=batch_max - taken
        )
        if not more:
            break
        for tp, messages in more.items():
            batches.setdefault(tp, []).extend(messages)
            taken += len(messages)
    return batches
