"""A bare faust agent pass-through, configured like the hub's app (hub/stream/app.py): the four
inbound topics, raw bytes, each message re-sent as is to one output topic.

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_OUT=bench.out BENCH_DATA=/tmp/x \
        python bench/faust_passthrough.py worker -l warning
"""

from __future__ import annotations

import os
from typing import Any

import faust

INBOUND = ("agency.onestop.status", "agency.land.status", "agency.tax.status",
           "agency.civil.status")  # fmt: skip

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


@app.agent(inbound)
async def passthrough(stream: Any) -> None:
    async for event in stream.events():
        msg = event.message
        await out.send(key=msg.key, value=msg.value)


if __name__ == "__main__":
    app.main()
