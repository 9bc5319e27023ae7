"""Throughput, and the replay it implies.

The simulated province-year at `--scale` (default 1/100 of its 25 M messages: ~30 000 dossiers,
all four sources) is produced once to the inbound topics, then read by, one after another, a bare
aiokafka consume->produce pass-through, a bare faust agent pass-through (per event, then in
batches of 500) and one hub worker (event clock). Rate = inbound messages / (first output record
-> last output record), by the output records' timestamps (CreateTime, stamped by each
producer), so start-up is not counted. For the hub the first output is the first dossier event
the intake emits and the last is the latest of the last event, alert and dossier summary.

That hub run is the replay of the province-year at that scale: its time is extrapolated to the
whole year (one worker, linearly; the report says so).
"""

from __future__ import annotations

import itertools
import re
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.kafka import (
    Feed,
    create_extra,
    edge_timestamps,
    produce_all,
    run,
    say,
    topic_total,
    wait_caught_up,
)
from bench.processes import (
    cpu_seconds,
    rss_mb,
    scrape,
    spawn,
    stop,
    summarize_profile,
    worker_env,
)
from bench.report import RESULTS
from bench.skeleton import run_skeleton
from hub.settings import Settings
from hub.testing import WORKER_COMMAND, free_ports
from hub.topics import ALERTS, DOSSIER_EVENTS, DOSSIER_SUMMARY, INBOUND_TOPICS

PASSTHROUGH_TOPICS = [f"bench.passthrough.{x}" for x in ("aiokafka", "faust", "faust_batched")]


async def aiokafka_passthrough(bootstrap: str, n: int, out_topic: str) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        *INBOUND_TOPICS.values(),
        bootstrap_servers=bootstrap,
        group_id="bench-aiokafka",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        max_partition_fetch_bytes=1 << 20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4_000_000
    )
    await consumer.start()
    await producer.start()
    count = 0
    t0 = None
    try:
        while count < n:
            batch = await consumer.getmany(timeout_ms=2000, max_records=2000)
            for records in batch.values():
                for r in records:
                    if t0 is None:
                        t0 = time.perf_counter()
                    await producer.send(out_topic, r.value, key=r.key)
                    count += 1
        await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()
    return {"inner_seconds": time.perf_counter() - (t0 or 0.0)}


def rate_from_output(n: int, low: int | None, high: int | None) -> float:
    if low is None or high is None or high <= low:
        return float("nan")
    return n / ((high - low) / 1000)


def steady_rate(n: int, progress: list[tuple[float, int]]) -> float:
    """Inbound msg/s while the judge went from 10 % to 90 % of the events it judged in all
    (interpolated between the looks at its committed offsets): the rate once both stages run,
    without the start (the judge's group joins after the intake's) and the end. `n` messages
    gave all the events, so a share of the events stands for that share of the messages."""
    if not progress or progress[-1][1] <= 0:
        return float("nan")
    total = progress[-1][1]

    def reached(share: float) -> float | None:
        goal = share * total
        for (t0, c0), (t1, c1) in itertools.pairwise(progress):
            if c0 < goal <= c1:
                return t0 + (t1 - t0) * (goal - c0) / (c1 - c0)
        return None

    t10, t90 = reached(0.1), reached(0.9)
    if t10 is None or t90 is None or t90 <= t10:
        return float("nan")
    return 0.8 * n / (t90 - t10)


def run_throughput(cfg: Settings, feed: Feed, work: Path, profile: bool) -> dict[str, Any]:
    n = len(feed.records)
    boot = cfg.kafka_bootstrap
    out: dict[str, Any] = {"messages": n, "dossiers": feed.dossier_count}
    say(f"producing {n} messages ({feed.dossier_count} dossiers) to the inbound topics")
    out["produce_msg_s"] = run(produce_all(boot, feed.records))

    # bare aiokafka
    run(create_extra(boot, PASSTHROUGH_TOPICS))
    say("bare aiokafka consume->produce pass-through")
    started = time.perf_counter()
    inner = run(aiokafka_passthrough(boot, n, PASSTHROUGH_TOPICS[0]))
    low, high = run(edge_timestamps(boot, PASSTHROUGH_TOPICS[0]))
    out["aiokafka"] = {
        "msg_s": rate_from_output(n, low, high),
        "wall_s": time.perf_counter() - started,
        **inner,
    }

    # the hub's record flow without the hub: the floor of one process (bench/skeleton.py)
    say("the hub's record flow with no processing (skeleton)")
    out["skeleton"] = run_skeleton(cfg, list(INBOUND_TOPICS.values()), n)

    # bare faust, one event at a time, then in batches as the hub takes them
    variants = (("faust", 0, PASSTHROUGH_TOPICS[1]), ("faust_batched", 500, PASSTHROUGH_TOPICS[2]))
    for name, batch, topic in variants:
        say(f"bare faust agent pass-through ({'batches of 500' if batch else 'per event'})")
        env = {
            "BENCH_BOOTSTRAP": boot,
            "BENCH_OUT": topic,
            "BENCH_DATA": str(work / name),
            "BENCH_BATCH": str(batch),
            "BENCH_APP_ID": f"bench-{name}",
        }
        cmd = [sys.executable, "-m", "bench.faust_passthrough", "worker", "-l", "info"]
        proc = spawn(cmd, env, work / f"{name}.log")
        started = time.perf_counter()
        try:
            deadline = time.monotonic() + 600
            while run(topic_total(boot, topic)) < n and time.monotonic() < deadline:
                time.sleep(1.0)
        finally:
            stop(proc)
        low, high = run(edge_timestamps(boot, topic))
        out[name] = {
            "msg_s": rate_from_output(n, low, high),
            "wall_s": time.perf_counter() - started,
        }

    # the hub
    say("the hub: one worker, event clock")
    out["hub"] = run_hub_replay(cfg, feed, work, profile)
    return out


def run_scaling(cfg: Settings, feed: Feed, work: Path, workers: int = 2) -> dict[str, Any]:
    """The same replay by `workers` workers on this machine (a broker of its own: the hub's
    topics are shared by every app on a broker), the scaling that partitions give."""
    say(f"producing {len(feed.records)} messages for {workers} workers")
    run(produce_all(cfg.kafka_bootstrap, feed.records))
    say(f"the hub: {workers} workers, event clock")
    return run_hub_replay(cfg, feed, work, False, workers=workers)


def is_event(r: Any) -> bool:
    return dict(r.headers or ()).get("motcua.kind") == b"event"


def _not_clock(r: Any) -> bool:
    return not (r.key or b"").startswith(b"\x00clock/")


def run_hub_replay(
    cfg: Settings, feed: Feed, work: Path, profile: bool, workers: int = 1
) -> dict[str, Any]:
    """The feed (already on the inbound topics) replayed by `workers` hub workers of one app,
    each with its own data directory and web port (its instance id)."""
    boot = cfg.kafka_bootstrap
    n = len(feed.records)
    ports = free_ports(workers)
    app_id = "bench-hub"
    prof = RESULTS / "hub-profile.raw" if profile and workers == 1 else None
    procs = []
    for i, web in enumerate(ports):
        home = work if workers == 1 else work / f"worker{i}"
        home.mkdir(parents=True, exist_ok=True)
        env = worker_env(cfg, home, app_id, web, clock="event", idle_timeout_s="10")
        procs.append(spawn(WORKER_COMMAND, env, home / "hub.log", prof))
    started = time.perf_counter()
    peak_rss = [0.0] * workers

    def sample_rss() -> None:
        for i, proc in enumerate(procs):
            peak_rss[i] = max(peak_rss[i], rss_mb(proc.pid))

    try:
        for proc in procs:
            proc.wait_ready(180)
        cpu0 = [cpu_seconds(proc.pid) for proc in procs]
        progress: list[tuple[float, int]] = []
        waited = wait_caught_up(
            boot, app_id, 1500, every=2.0, on_poll=sample_rss, progress=progress
        )
        if waited != waited:  # nan
            raise RuntimeError("the hub did not finish in time")
        done_at = time.perf_counter()
        time.sleep(3.0)
        cpu = sum(cpu_seconds(proc.pid) - c for proc, c in zip(procs, cpu0, strict=True))
        metrics = scrape(ports[0])
        rss = [rss_mb(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            stop(proc)
    first, last_event = run(edge_timestamps(boot, DOSSIER_EVENTS, is_event))
    _, last_alert = run(edge_timestamps(boot, ALERTS))
    _, last_summary = run(edge_timestamps(boot, DOSSIER_SUMMARY, _not_clock))
    last = max(x for x in (last_alert, last_summary, last_event) if x is not None)
    alerts = run(topic_total(boot, ALERTS))
    events = run(topic_total(boot, DOSSIER_EVENTS))
    summaries = run(topic_total(boot, DOSSIER_SUMMARY))
    changelog = run(topic_total(boot, f"{app_id}-dossiers-changelog"))
    dossiers = re.search(r"^motcua_dossiers(?:\{[^}]*\})? ([0-9.e+]+)$", metrics, re.M)
    result: dict[str, Any] = {
        "msg_s": rate_from_output(n, first, last),
        "ingest_msg_s": rate_from_output(n, first, last_event),
        "steady_msg_s": steady_rate(n, progress),
        "seconds": (last - first) / 1000 if first and last else None,
        "wall_s_incl_start": done_at - started,
        "cpu_s": cpu,
        "alerts": alerts,
        "records_out_per_message": {
            "dossier_events_incl_clock": events / n,
            "table_changelog": changelog / n,
            "summaries": summaries / n,
            "alerts": alerts / n,
        },
        "workers": workers,
        "rss_mb_end": max(rss),
        "rss_mb_peak": max(peak_rss),
        "rss_mb_each": rss,
        "dossiers_in_table": float(dossiers.group(1)) if dossiers else None,
    }
    if prof is not None:
        result["profile"] = summarize_profile(prof)
    return result
