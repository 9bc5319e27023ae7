"""Sending the simulated feed: to Kafka (in send-time order, at a chosen speed) or to files.

Files: one per source (`onestop.jsonl`, `land.jsonl`, `tax.jsonl`, one message per line;
`civil.xmll`, one XML document per line), `schedule.jsonl` (for every line of those: source, line,
`sent_at`, `event_time`, dossier, note; produce in `sent_at` order to replay the feed) and
`dossiers.jsonl` (what each dossier was built to do), as in the contract's samples.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hub.errors import BrokerError
from hub.kafka_client import connection_options, connection_problem
from hub.settings import Settings
from hub.simulate.formats import render
from hub.simulate.province import Simulation
from hub.simulate.records import Dossier, Msg
from hub.simulate.systems import FILE_NAMES, SOURCES, TOPICS
from hub.stream.clock import Clock


@dataclass
class Stats:
    messages: int = 0
    bytes: int = 0
    dossiers: int = 0
    by_source: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))
    by_note: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, msg: Msg, size: int) -> None:
        self.messages += 1
        self.bytes += size
        self.by_source[msg.source] += 1
        note = msg.note or "valid"
        self.by_note[note] = self.by_note.get(note, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "dossiers": self.dossiers,
            "by_source": self.by_source,
            "by_note": dict(sorted(self.by_note.items())),
            "seconds": round(self.seconds, 3),
        }


def schedule_line(msg: Msg, line: int) -> dict[str, Any]:
    return {
        "source": msg.source,
        "line": line,
        "sent_at": msg.sent_at.isoformat(timespec="seconds"),
        "event_time": msg.event_time.isoformat() if msg.event_time else None,
        "dossier": msg.dossier.key,
        "note": msg.note,
    }


def write_files(sim: Simulation, out_dir: Path) -> Stats:
    """Write the whole feed of `sim` under `out_dir` (created); returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = Stats()
    cfg = sim.cfg
    started = time.perf_counter()
    handles: dict[str, IO[bytes]] = {}
    lines = dict.fromkeys(SOURCES, 0)
    try:
        for source in SOURCES:
            handles[source] = (out_dir / FILE_NAMES[source]).open("wb")
        with (
            (out_dir / "schedule.jsonl").open("w", encoding="utf-8") as schedule,
            (out_dir / "dossiers.jsonl").open("w", encoding="utf-8") as dossiers,
        ):

            def on_dossier(d: Dossier) -> None:
                stats.dossiers += 1
                dossiers.write(json.dumps(d.summary(), ensure_ascii=False) + "\n")

            sim.on_dossier = on_dossier
            for msg in sim.messages():
                data = render(msg, security_code=cfg.security_code, max_bytes=cfg.max_message_bytes)
                lines[msg.source] += 1
                handles[msg.source].write(data + b"\n")
                schedule.write(
                    json.dumps(schedule_line(msg, lines[msg.source]), ensure_ascii=False) + "\n"
                )
                stats.count(msg, len(data))
    finally:
        sim.on_dossier = None
        for fh in handles.values():
            fh.close()
    stats.seconds = time.perf_counter() - started
    return stats


def message_key(msg: Msg) -> bytes | None:
    """The Kafka key: the dossier's key, but none for one dossier in ten (the hub must not rely
    on keys)."""
    return None if msg.dossier.seq % 10 == 0 else msg.dossier.key.encode("utf-8")


async def publish(
    sim: Simulation,
    settings: Settings,
    speed: float | None,
    topics: dict[str, str] | None = None,
    clock: Clock | None = None,
    stats: Stats | None = None,
) -> Stats:
    """Produce the feed to Kafka in send-time order.

    `speed` None: as fast as possible; otherwise simulated seconds per wall second (1 = real time,
    3600 = one hour per second), the first message sent at once. With a `clock` (the simulated
    "now" the hub shares, e.g. a WarpedClock running at `speed`), each message is sent when that
    clock reaches its send time instead. `stats`, if given, is filled as messages go.
    """
    from aiokafka import AIOKafkaProducer

    topics = topics or TOPICS
    cfg = sim.cfg
    producer = AIOKafkaProducer(
        **connection_options(settings),
        acks="all",
        linger_ms=5,
        max_request_size=max(1_048_576, cfg.max_message_bytes * 2 + 200_000),
    )
    try:
        await producer.start()
    except Exception as exc:  # aiokafka says only "Unable to bootstrap": tell why
        problem = await connection_problem(settings)
        raise BrokerError(problem or f"Kafka does not answer: {exc!r}") from exc
    stats = stats if stats is not None else Stats()
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    origin_wall = loop.time()
    origin_sim: float | None = None
    pending: list[asyncio.Future[Any]] = []
    try:
        for msg in sim.messages():
            if speed is not None:
                at = msg.sent_at.timestamp()
                if clock is not None:
                    delay = (msg.sent_at - clock()).total_seconds() / speed
                else:
                    if origin_sim is None:
                        origin_sim = at
                    delay = origin_wall + (at - origin_sim) / speed - loop.time()
                if delay > 0:
                    if pending:
                        await asyncio.gather(*pending)
                        pending.clear()
                    await asyncio.sleep(delay)
            data = render(msg, security_code=cfg.security_code, max_bytes=cfg.max_message_bytes)
            pending.append(
                await producer.send(topics[msg.source], value=data, key=message_key(msg))
            )
            stats.count(msg, len(data))
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        if pending:
            await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


def iter_rendered(sim: Simulation) -> Iterable[tuple[Msg, bytes]]:
    """Every message with its bytes, in send-time order (for tests and other sinks)."""
    cfg = sim.cfg
    for msg in sim.messages():
        yield msg, render(msg, security_code=cfg.security_code, max_bytes=cfg.max_message_bytes)
