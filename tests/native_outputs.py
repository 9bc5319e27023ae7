"""Every byte the hot modules put out on a simulated province and the contract's samples, hashed
per kind: run once with MOTCUA_NATIVE=off and once with =required, the two must be equal
(tests/unit/test_native.py). `python -m tests.native_outputs [--dossiers N]` prints the JSON.

The pipeline is the worker's without Kafka, bench/inprocess.py's (`intake`, `judged`): every
dead letter's reason and message, the events' Avro, the alerts, the records the judge refused,
the summaries, the stored states and the outbox, and what the judge logged. The clocks are
fixed, so a run gives the same bytes every time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import struct
from collections import defaultdict
from datetime import UTC, date, datetime

from bench.inprocess import intake, judged
from bench.kafka import make_feed
from connectors import SOURCES, Decoded
from hub import native
from hub.codec import encode_alert
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.settings import ClockMode, Settings
from tests.samples import lines

NOW = datetime(2026, 12, 5, tzinfo=UTC)


class _Logged(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        tail = "" if exc is None else f" | {type(exc).__name__}: {exc}"
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}{tail}")


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
    for topic, key, raw in inbound:
        out("inbound", topic.encode(), key or b"", raw)

    def seen(name: str, decoded: Decoded) -> None:
        for rej in decoded.rejections:
            out("dead letters", name.encode(), rej.reason.value.encode(), rej.message.encode())

    events = intake(cfg, calendar, inbound, NOW, seen)
    for _, key, blob, _ in events:
        out("events", key, blob)
    for kind, what in judged(cfg, engine, events, lambda: NOW):
        if kind == "alerts":
            for alert in what:
                out(kind, encode_alert(alert))
        elif kind == "refused":  # the worker dead-letters the record
            key, exc = what
            out(kind, key, f"{type(exc).__name__}: {exc}".encode())
        elif kind == "states":
            for key, value, partition in what:
                out(kind, key, str(partition).encode(), value or b"<deleted>")
        else:  # summaries (key, value) and outbox (key, value, kind)
            for record in what:
                out(kind, *record)
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
