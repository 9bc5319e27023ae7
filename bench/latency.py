"""Latency, message produced -> its alert emitted.

A fresh hub worker on the *wall* clock, allowed lateness 0, fed a past-dated simulated feed at a
steady rate (`--rates`, default 1 000 and 300 messages/s, for `--latency-seconds`): every
alert's condition is already in the past, so alerts fire as the message that establishes them is
judged. Latency = the alert record's timestamp less the produce time of the latest message of
that dossier sent before it; alerts with another message of the same dossier sent in the
GAP_S before it are ambiguous and left out (counted). Each latency is split into the intake's
part (sent -> the dossier event written) and the judge's (event written -> alert). The hub's own
histogram (ingest emission -> alert sent) is shown too.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.kafka import Feed, make_feed, reset_topics, run, say, wait_caught_up
from bench.processes import cpu_seconds, histogram_quantiles, scrape, spawn, stop, worker_env
from bench.report import pct
from bench.throughput import PASSTHROUGH_TOPICS, is_event
from hub.codec import decode_alert
from hub.settings import Settings
from hub.testing import WORKER_COMMAND, Record, free_ports, read_topic
from hub.topics import ALERTS, DOSSIER_EVENTS

GAP_S = 3.0  # a dossier's messages at least this far apart
READ_LIMIT_S = 600.0


async def paced(bootstrap: str, records: list[Record], rate: float) -> list[float]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0, max_request_size=4_000_000
    )
    await producer.start()
    sent: list[float] = []
    try:
        t0 = time.time() + 0.5
        for i, (topic, key, value) in enumerate(records):
            due = t0 + i / rate
            wait = due - time.time()
            if wait > 0.002:
                await asyncio.sleep(wait)
            sent.append(time.time())
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def read_alerts(bootstrap: str) -> list[tuple[int, str]]:
    records = await read_topic(bootstrap, ALERTS, limit_s=READ_LIMIT_S)
    return [(r.timestamp, decode_alert(r.value).dossier_code) for r in records if r.value]


async def read_event_times(bootstrap: str) -> dict[str, list[int]]:
    """When the intake wrote each dossier's events (record timestamps), per dossier."""
    out: dict[str, list[int]] = defaultdict(list)
    for r in await read_topic(bootstrap, DOSSIER_EVENTS, limit_s=READ_LIMIT_S):
        if r.key and is_event(r):
            out[r.key.decode()].append(r.timestamp)
    for times in out.values():
        times.sort()
    return out


def spaced(feed: Feed, gap: int, limit: int) -> tuple[list[Record], list[str]]:
    """`limit` of the feed's messages, reordered so that a dossier's consecutive messages are at
    least `gap` slots apart (their order kept): a message's alert is then attributable to it."""
    queues: dict[str, list[int]] = defaultdict(list)
    order: list[str] = []
    for i, key in enumerate(feed.dossiers):
        if key not in queues:
            order.append(key)
        queues[key].append(i)
    pos = dict.fromkeys(queues, 0)
    ready: list[tuple[int, int, str]] = []  # (slot from which ready, feed index, dossier)
    admitted = 0
    out: list[int] = []
    slot = 0
    while len(out) < min(limit, len(feed.records)):
        if ready and ready[0][0] <= slot:
            _, i, key = heapq.heappop(ready)
        elif admitted < len(order):
            key = order[admitted]
            admitted += 1
            i = queues[key][0]
        else:
            _, i, key = heapq.heappop(ready)
        out.append(i)
        pos[key] += 1
        if pos[key] < len(queues[key]):
            heapq.heappush(ready, (slot + gap, queues[key][pos[key]], key))
        slot += 1
    return [feed.records[i] for i in out], [feed.dossiers[i] for i in out]


def run_latency(cfg: Settings, work: Path, seconds: float, rate: float) -> dict[str, Any]:
    boot = cfg.kafka_bootstrap
    n = int(seconds * rate)
    say(f"latency feed: {n} messages of a past-dated province, at {rate:g}/s")
    feed = make_feed(max(300, n // 4), 30, date(2026, 8, 3), seed=5)
    records, keys = spaced(feed, int(GAP_S * rate), n)
    run(reset_topics(cfg, PASSTHROUGH_TOPICS))
    web = free_ports(1)[0]
    app_id = f"bench-latency-{int(rate)}"
    env = worker_env(cfg, work, app_id, web, clock="wall", allowed_lateness_s="0")
    proc = spawn(WORKER_COMMAND, env, work / f"{app_id}.log")
    try:
        proc.wait_ready(180)
        time.sleep(5.0)  # partitions assigned, tables recovered
        cpu0 = cpu_seconds(proc.pid)
        sent = run(paced(boot, records, rate))
        achieved = len(sent) / (sent[-1] - sent[0])
        cpu = cpu_seconds(proc.pid) - cpu0
        drain = wait_caught_up(boot, app_id, 600)
        time.sleep(3.0)
        metrics = scrape(web)
    finally:
        stop(proc)
    alerts = run(read_alerts(boot))
    written = run(read_event_times(boot))
    by_dossier: dict[str, list[float]] = defaultdict(list)
    for t, key in zip(sent, keys, strict=True):
        by_dossier[key].append(t)
    lat: list[float] = []
    intake: list[float] = []
    judge: list[float] = []
    ambiguous = unmatched = 0
    for ts_ms, code in alerts:
        t_alert = ts_ms / 1000
        times = [t for t in by_dossier.get(code, ()) if t <= t_alert + 0.001]
        if not times:
            unmatched += 1
            continue
        latest = times[-1]
        if len(times) > 1 and latest - times[-2] < GAP_S - 0.01:
            ambiguous += 1
            continue
        lat.append(max(0.0, t_alert - latest))
        # where it went: intake (sent -> event written), judge (event written -> alert)
        events = [t / 1000 for t in written.get(code, ()) if latest <= t / 1000 <= t_alert + 0.001]
        if events:
            intake.append(max(0.0, events[0] - latest))
            judge.append(max(0.0, t_alert - events[0]))
    hist = histogram_quantiles(metrics, "motcua_processing_latency_seconds", (0.5, 0.99))
    commits = {
        stage: (
            _mean(metrics, "motcua_transaction_commit_seconds", stage),
            _mean(metrics, "motcua_batch_records", stage),
        )
        for stage in ("intake", "judge")
    }
    for stage, (commit_s, per_batch) in commits.items():
        say(f"  {stage}: a transaction commits in {1000 * commit_s:.1f} ms on average, "
            f"{per_batch:.0f} records a batch")  # fmt: skip
    return {
        "messages": len(sent),
        "rate": rate,
        "rate_achieved": achieved,
        "alerts": len(alerts),
        "measured": len(lat),
        "ambiguous": ambiguous,
        "unmatched": unmatched,
        "p50_ms": 1000 * pct(lat, 0.50),
        "p99_ms": 1000 * pct(lat, 0.99),
        "max_ms": 1000 * max(lat) if lat else None,
        "intake_p50_ms": 1000 * pct(intake, 0.50),
        "intake_p99_ms": 1000 * pct(intake, 0.99),
        "judge_p50_ms": 1000 * pct(judge, 0.50),
        "judge_p99_ms": 1000 * pct(judge, 0.99),
        "worker_cpu_share": cpu / (sent[-1] - sent[0]),
        "drain_s_after_feed": drain,
        "hub_histogram_p50_le_s": hist[0.5],
        "hub_histogram_p99_le_s": hist[0.99],
        "commit_ms_mean": {k: 1000 * v[0] for k, v in commits.items()},
        "batch_records_mean": {k: v[1] for k, v in commits.items()},
    }


def _mean(metrics: str, name: str, stage: str) -> float:
    """A labelled histogram's mean (its sum over its count) in the /metrics text."""
    found = {}
    for part in ("sum", "count"):
        pattern = rf'^{name}_{part}{{stage="{stage}"}} (\S+)$'
        match = re.search(pattern, metrics, re.MULTILINE)
        found[part] = float(match.group(1)) if match else 0.0
    return found["sum"] / found["count"] if found["count"] else float("nan")
