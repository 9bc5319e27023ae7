"""Every byte the hot modules put out on a simulated province and the contract's samples, hashed
per kind: run once with MOTCUA_NATIVE=off and once with =required, the two must be equal
(tests/test_native.py). `python -m tests.native_outputs [--dossiers N]` prints the JSON.

The pipeline is the worker's, without Kafka (as bench/inprocess.py): the intake's decoding of
each message, every dead letter's reason and message, the events' Avro, the judge on a table
with the event clock (a clock record to every partition per batch), the alerts, the summaries,
the stored states and the outbox, and what the judge logged. The clocks are fixed, so a run
gives the same bytes every time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import struct
from collections import defaultdict
from datetime import UTC, date, datetime

from bench.kafka import make_feed
from connectors import SOURCES
from hub import native
from hub.codec import encode_alert, encode_event
from hub.domain.alerts import Alert
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.protocol import KIND_CLOCK, KIND_EVENT, ClockRecord, encode_clock
from hub.settings import ClockMode, Settings
from hub.stream.ingest import decode
from hub.stream.judge import Judge
from hub.stream.publisher import SummaryPublisher
from hub.stream.state import StateCache, to_ms
from hub.stream.table import DossierTable
from tests.samples import lines

PARTITIONS = 8
BATCH = 500
NOW = datetime(2026, 12, 5, tzinfo=UTC)


class _Logged(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        tail = "" if exc is None else f" | {type(exc).__name__}: {exc}"
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}{tail}")


def _partition(key: bytes) -> int:
    from aiokafka.partitioner import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def outputs(dossiers: int) -> dict[str, list[object]]:
    logged = _Logged()
    logging.getLogger().addHandler(logged)
    digests: dict[str, hashlib._Hash] = defaultdict(hashlib.sha256)
    counts: dict[str, int] = defaultdict(int)

    def out(kind: str, *parts: bytes) -> None:
        for part in parts:
            digests[kind].update(struct.pack(">I", len(part)) + part)
        counts[kind] += 1

    cfg = Settings(clock=ClockMode.EVENT, max_event_lead_s=10 * 365 * 86_400.0)
    calendar = WorkingCalendar.from_file(cfg.calendar_file)
    engine = Engine(calendar, Catalog.from_file(cfg.catalog_file), cfg.grace_working_days)

    feed = make_feed(dossiers, 365, date(2025, 11, 3), seed=7)
    inbound = list(feed.records)
    inbound += [(spec.topic, None, raw) for spec in SOURCES.values() for raw in lines(spec.name)]
    events: list[tuple[int, bytes, bytes, int | None]] = []
    high: int | None = None
    for offset, (topic, key, raw) in enumerate(inbound):
        out("inbound", topic.encode(), key or b"", raw)
        name, decoded = decode(cfg, calendar, topic, 0, offset, raw, NOW)
        for rej in decoded.rejections:
            out("dead letters", name.encode(), rej.reason.value.encode(), rej.message.encode())
        for ev in decoded.events:
            blob = encode_event(ev)
            ekey = ev.dossier_code.encode()
            out("events", ekey, blob)
            if ev.event_time is not None:
                high = max(to_ms(ev.event_time), high or 0)
            events.append((_partition(ekey), ekey, blob, high))

    table = DossierTable()
    table.active = set(range(PARTITIONS))
    cache = StateCache(cfg.state_cache_dossiers)
    judge = Judge(cfg, engine, lambda: NOW, table, cache=cache, writer=table.write)
    publisher = SummaryPublisher(calendar, cfg.grace_working_days)
    judge.on_facts = publisher.collect

    def alerts(made: list[Alert]) -> None:
        for alert in made:
            out("alerts", encode_alert(alert))

    for i, (partition, key, blob, mark) in enumerate(events):
        try:
            alerts(judge.handle(KIND_EVENT, partition, key, blob))
        except Exception as exc:  # the worker dead-letters the record
            out("judge refusals", key, f"{type(exc).__name__}: {exc}".encode())
        if (i + 1) % BATCH == 0 or i + 1 == len(events):
            clock = encode_clock(ClockRecord(mark or 0, 1, {"feed:0": [mark, False, False]}))
            for p in range(PARTITIONS):
                alerts(judge.handle(KIND_CLOCK, p, b"", clock))
            judge.flush()
            for k, v in publisher.take():
                out("summaries", k, v)
            for k, value, p in table.take():
                out("states", k, str(p).encode(), value or b"<deleted>")
            table.commit({})
            for k, v, kind in judge.outbox:
                out("outbox", k, kind, v)
            judge.outbox.clear()
    for line in logged.lines:
        out("logged", line.encode())
    result: dict[str, list[object]] = {
        kind: [counts[kind], digests[kind].hexdigest()] for kind in sorted(counts)
    }
    result["native"] = [native.STATUS.active, native.STATUS.describe()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=800)
    print(json.dumps(outputs(parser.parse_args().dossiers)))


if __name__ == "__main__":
    main()
