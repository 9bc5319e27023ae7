"""The hub's own work per inbound message, without Kafka: what the two stages cost in Python.

Run as `python -m bench.inprocess [--dossiers 3000] [--profile]`. The simulated province-year
(the throughput section's feed, smaller) goes through the intake's decoding (connectors, event
encoding) and then the judge on a plain table, as the worker runs them: events in their
partitions, a clock record to every partition every 500 messages (the event clock, with the
highest event time read so far), the judge's states flushed per 500 (as one batch), summaries
made and encoded. Prints CPU µs per inbound message for each stage; `--profile` adds cProfile's
top functions by own time. What is left out is what Kafka costs: the client's fetch, produce and
transactions (the difference to the throughput section's figure).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from bench.kafka import make_feed
from connectors import Decoded
from hub.codec import encode_event
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

PARTITIONS = 8
BATCH = 500


# an event as the intake writes it: its partition, key and Avro, and the highest event time read
# so far (what the clock record after it carries)
Event = tuple[int, bytes, bytes, int | None]


def _partition(key: bytes) -> int:
    from aiokafka.partitioner import murmur2

    return int(murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def intake(
    cfg: Settings,
    calendar: WorkingCalendar,
    records: Iterable[tuple[str, bytes | None, bytes]],
    now: datetime,
    seen: Callable[[str, Decoded], None] | None = None,
) -> list[Event]:
    """The intake's work on (topic, key, raw) messages: decoded, events encoded; `seen` is told
    of each message's outcome (its connector's name and what it decoded)."""
    events: list[Event] = []
    high: int | None = None
    for offset, (topic, _key, raw) in enumerate(records):
        name, decoded = decode(cfg, calendar, topic, 0, offset, raw, now)
        if seen is not None:
            seen(name, decoded)
        for ev in decoded.events:
            key = ev.dossier_code.encode()
            if ev.event_time is not None:
                t = to_ms(ev.event_time)
                high = t if high is None or t > high else high
            events.append((_partition(key), key, encode_event(ev), high))
    return events


def judged(
    cfg: Settings,
    engine: Engine,
    events: list[Event],
    clock: Callable[[], datetime],
) -> Iterator[tuple[str, Any]]:
    """The judge's work on the events, as its loop drives it, on a plain table: what it puts
    out, in order, as (kind, what): ("alerts", [Alert]) for each record judged, ("refused", (key,
    exception)) for an event it refuses (the loop dead-letters it), and after each batch of
    BATCH (its clock record judged on every partition) ("summaries", [(key, value)]),
    ("states", [(key, value, partition)]) and ("outbox", [(key, value, kind)])."""
    table = DossierTable()
    table.active = set(range(PARTITIONS))
    cache = StateCache(cfg.state_cache_dossiers)
    judge = Judge(cfg, engine, clock, table, cache=cache, writer=table.write)
    publisher = SummaryPublisher(engine.calendar, engine.grace_working_days)
    judge.on_facts = publisher.collect
    for i, (partition, key, blob, mark) in enumerate(events):
        try:
            yield "alerts", judge.handle(KIND_EVENT, partition, key, blob)
        except Exception as exc:
            yield "refused", (key, exc)
        if (i + 1) % BATCH == 0 or i + 1 == len(events):
            record = encode_clock(ClockRecord(mark or 0, 1, {"feed:0": [mark, False, False]}))
            for p in range(PARTITIONS):
                yield "alerts", judge.handle(KIND_CLOCK, p, b"", record)
            judge.flush()
            yield "summaries", publisher.take()
            yield "states", table.take()
            table.commit({})
            yield "outbox", list(judge.outbox)
            judge.outbox.clear()


def run(dossiers: int, profile: bool) -> None:
    feed = make_feed(dossiers, 365, date(2025, 11, 3), seed=7)
    cfg = Settings(clock=ClockMode.EVENT, max_event_lead_s=10 * 365 * 86_400.0)
    calendar = WorkingCalendar.from_file(cfg.calendar_file)
    engine = Engine(calendar, Catalog.from_file(cfg.catalog_file), cfg.grace_working_days)
    now = datetime.now(UTC)  # the intake checks each time against its wall clock

    prof = cProfile.Profile() if profile else None
    started = time.process_time()
    if prof:
        prof.enable()
    events = intake(cfg, calendar, feed.records, now)
    if prof:
        prof.disable()
    intake_s = time.process_time() - started

    counts: Counter[str] = Counter()
    started = time.process_time()
    if prof:
        prof.enable()
    for kind, what in judged(cfg, engine, events, lambda: datetime.now(UTC)):
        if kind == "refused":
            raise what[1]
        counts[kind] += len(what)
    if prof:
        prof.disable()
    judge_s = time.process_time() - started
    n = len(feed.records)
    print(f"{n} inbound messages, {len(events)} events, {feed.dossier_count} dossiers")
    print(f"intake: {intake_s / n * 1e6:7.1f} µs a message (decode, encode)")
    print(
        f"judge:  {judge_s / n * 1e6:7.1f} µs a message ({counts['alerts']} alerts, "
        f"{counts['summaries']} summaries, {counts['states']} states written)"
    )
    print(f"both:   {(intake_s + judge_s) / n * 1e6:7.1f} µs a message")
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dossiers", type=int, default=3000)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    run(args.dossiers, args.profile)


if __name__ == "__main__":
    main()
