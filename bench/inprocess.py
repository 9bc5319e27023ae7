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
from datetime import UTC, date, datetime

from bench.kafka import make_feed
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


def _partition(key: bytes) -> int:
    from aiokafka.partitioner import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % PARTITIONS


def run(dossiers: int, profile: bool) -> None:
    feed = make_feed(dossiers, 365, date(2025, 11, 3), seed=7)
    cfg = Settings(clock=ClockMode.EVENT, max_event_lead_s=10 * 365 * 86_400.0)
    calendar = WorkingCalendar.from_file(cfg.calendar_file)
    engine = Engine(calendar, Catalog.from_file(cfg.catalog_file), cfg.grace_working_days)
    now = datetime.now(UTC)  # the intake checks each time against its wall clock

    prof = cProfile.Profile() if profile else None
    # stage 1: raw messages -> (partition, key, event bytes); the highest event time so far
    started = time.process_time()
    if prof:
        prof.enable()
    events: list[tuple[int, bytes, bytes, int | None]] = []
    high: int | None = None
    for offset, (topic, _key, raw) in enumerate(feed.records):
        _, decoded = decode(cfg, calendar, topic, 0, offset, raw, now)
        for ev in decoded.events:
            key = ev.dossier_code.encode()
            if ev.event_time is not None:
                t = to_ms(ev.event_time)
                high = t if high is None or t > high else high
            events.append((_partition(key), key, encode_event(ev), high))
    if prof:
        prof.disable()
    intake_s = time.process_time() - started

    # stage 2: the judge, as the loop drives it
    table = DossierTable()
    table.active = set(range(PARTITIONS))
    judge = Judge(
        cfg,
        engine,
        lambda: datetime.now(UTC),
        table,
        cache=StateCache(cfg.state_cache_dossiers),
        writer=table.write,
    )
    publisher = SummaryPublisher(calendar, cfg.grace_working_days)
    judge.on_facts = publisher.collect
    alerts = summaries = states = 0
    started = time.process_time()
    if prof:
        prof.enable()
    for i, (partition, key, blob, mark) in enumerate(events):
        alerts += len(judge.handle(KIND_EVENT, partition, key, blob))
        if (i + 1) % BATCH == 0 or i + 1 == len(events):
            clock = encode_clock(ClockRecord(mark or 0, 1, {"feed:0": [mark, False, False]}))
            for p in range(PARTITIONS):
                alerts += len(judge.handle(KIND_CLOCK, p, b"", clock))
            judge.flush()
            summaries += len(publisher.take())
            states += len(table.take())
            table.commit({})
            judge.outbox.clear()
    if prof:
        prof.disable()
    judge_s = time.process_time() - started
    n = len(feed.records)
    print(f"{n} inbound messages, {len(events)} events, {feed.dossier_count} dossiers")
    print(f"intake: {intake_s / n * 1e6:7.1f} µs a message (decode, encode)")
    print(
        f"judge:  {judge_s / n * 1e6:7.1f} µs a message "
        f"({alerts} alerts, {summaries} summaries, {states} states written)"
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
