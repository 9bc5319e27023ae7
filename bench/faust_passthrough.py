"""A bare faust agent pass-through, configured like the hub's app (hub/stream/app.py): the four
inbound topics, raw bytes, each message re-sent as is to one output topic.

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_OUT=bench.out BENCH_DATA=/tmp/x [BENCH_BATCH=500] \
        python -m bench.faust_passthrough worker -l warning

BENCH_BATCH > 0 takes batches (`take_events`, 50 ms) and awaits the sends once per batch.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust

from hub.topics import INBOUND_TOPICS

INBOUND = tuple(INBOUND_TOPICS.values())

app = faust.App(
    os.environ.get("BENCH_APP_ID", "bench-faust-passthrough"),
    broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ.get("BENCH_DATA", "/tmp/bench-faust"),
    topic_allow_declare=True,
    table_standby_replicas=0,
    processing_guarantee="at_least_once",
    producer_acks=-1,
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    stream_wait_empty=False,
)
inbound = app.topic(*INBOUND, key_serializer="raw", value_serializer="raw")
out = app.topic(os.environ["BENCH_OUT"], key_serializer="raw", value_serializer="raw")


BATCH = int(os.environ.get("BENCH_BATCH", "0"))  # 0: one event at a time


@app.agent(inbound)
async def passthrough(stream: Any) -> None:
    if not BATCH:
        async for event in stream.events():
            msg = event.message
            await out.send(key=msg.key, value=msg.value)
        return
    # as the hub does it: batches, records handed to the producer, awaited once per batch
    async for batch in stream.take_events(BATCH, within=0.05):
        sent = []
        for event in batch:
            msg = event.message
            sent.append(
                await app.producer.send(out.get_topic_name(), msg.key, msg.value, None, None, None)
            )
        await asyncio.gather(*sent)


if __name__ == "__main__":
    app.main()
