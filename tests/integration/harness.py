"""Running real workers against a real broker, producing raw messages, reading what comes out."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from hub.codec import decode_alert
from hub.domain.alerts import Alert
from hub.topics import ALERTS


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log: Path

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-3000:]}")
            if "[^Worker]: Ready" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready: {self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_worker(env: dict[str, str], log: Path) -> WorkerProc:
    full = {**os.environ, **env}
    out = log.open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "motcua-hub"), "worker", "--loglevel", "info"],
        env=full,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return WorkerProc(proc, log)


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[WorkerProc]:
    worker = start_worker(env, log)
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4_000_000)
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The next offset of each partition of `topic`: where a later reader starts."""
    records = await read_topic(bootstrap, topic, idle_s=1.0)
    ends: dict[int, int] = {}
    for r in records:
        ends[r.partition] = max(ends.get(r.partition, 0), r.offset + 1)
    return ends


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """What consumer group `group` has committed, per (topic, partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


async def read_topic(
    bootstrap: str,
    topic: str,
    start: dict[int, int] | None = None,
    idle_s: float = 2.0,
    limit_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from `start` (default: the beginning) until it goes quiet
    (or `limit_s` passes: a topic a running worker keeps writing to never does)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        out: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=int(idle_s * 1000))
            if not batch:
                return out
            for msgs in batch.values():
                out.extend(m for m in msgs if not start or m.offset >= start.get(m.partition, 0))
        return out
    finally:
        await consumer.stop()


def wait_for_alerts(
    bootstrap: str,
    *,
    at_least: int,
    start: dict[int, int] | None = None,
    quiet_s: float = 6.0,
    timeout: float = 150.0,
) -> list[Alert]:
    """Alerts on hub.alerts once there are `at_least` of them and no more come for `quiet_s`."""
    deadline = time.monotonic() + timeout
    last: list[Alert] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        records = asyncio.run(read_topic(bootstrap, ALERTS, start, idle_s=1.0))
        alerts = [decode_alert(r.value) for r in records if r.value is not None]
        if len(alerts) != len(last):
            last, stable_since = alerts, time.monotonic()
        elif len(alerts) >= at_least and time.monotonic() - stable_since >= quiet_s:
            return alerts
        time.sleep(1.0)
    return last
