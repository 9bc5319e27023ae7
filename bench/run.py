"""The hub's benchmarks, one command: `python bench/run.py` (about 10 minutes on 2 cores).

Starts its own Kafka broker (hub.broker, free ports, a temp data dir), then:

1. throughput: the simulated province-year at `--scale` (default 1/100: 30 000 dossiers, all four
   sources) produced once to the inbound topics, then read by, one after another, a bare aiokafka
   consume->produce pass-through, a bare faust agent pass-through and one hub worker (event
   clock). Rate = inbound messages / (first output record -> last output record), output record
   timestamps (CreateTime, stamped by each producer) so start-up is not counted. For the hub the
   first output is the first dossier event ingest emits and the last is the later of the last
   alert and the last dossier summary the judge emits.
2. replay: that hub run is the replay of the province-year at 1/100 scale; its time is extrapolated
   x100 (one worker; say so).
3. latency: a fresh hub worker on the *wall* clock, allowed lateness 0, fed a past-dated simulated
   feed at a steady 1 000 messages/s: every alert's condition is already in the past, so alerts
   fire as the message that establishes them is judged. Latency = the alert record's timestamp
   less the produce time of the latest message of that dossier sent before it; alerts with
   another message of the same dossier sent in the 2 s before it are ambiguous and left out
   (counted). The hub's own histogram (ingest emission -> alert sent) is shown too.
4. memory and ticks: in this process, a Judge with a dict table holding N open dossiers (real
   stored states of open simulated dossiers, cycled under distinct keys), N = 10k, 100k, 1M:
   tracemalloc'd bytes per dossier (table + deadline heap), heap rebuild time, and the cost of a
   clock tick that wakes 10 due dossiers (and of one that wakes none).

Prints a table and writes bench/results/bench-<time>.json. `--profile` runs the hub worker
of step 1 under py-spy (pip install py-spy) and prints where its time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import heapq
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient  # noqa: E402

from hub import broker  # noqa: E402
from hub.codec import decode_alert, encode_event  # noqa: E402
from hub.domain.calendar import TZ, WorkingCalendar  # noqa: E402
from hub.domain.catalog import Catalog  # noqa: E402
from hub.domain.engine import Engine  # noqa: E402
from hub.settings import DATA_DIR, ClockMode, Settings  # noqa: E402
from hub.simulate.cli import DEFAULT_SECURITY_CODE  # noqa: E402
from hub.simulate.formats import TOPICS  # noqa: E402
from hub.simulate.province import SimConfig, Simulation, load_catalogue  # noqa: E402
from hub.simulate.publish import message_key, render  # noqa: E402
from hub.stream.ingest import decode  # noqa: E402
from hub.stream.judge import Judge  # noqa: E402
from hub.stream.state import DossierState, peek, to_ms  # noqa: E402
from hub.topics import (  # noqa: E402
    ALERTS,
    DOSSIER_EVENTS,
    DOSSIER_SUMMARY,
    INBOUND_TOPICS,
    create_topics,
    topic_partitions,
)

RESULTS = ROOT / "bench" / "results"
CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOGUE = load_catalogue(DATA_DIR / "procedures.csv")
YEAR_DOSSIERS = 3_000_000
YEAR_MESSAGES = 25_000_000
GAP_S = 3.0  # latency feed: a dossier's messages at least this far apart
WORKER = ("-c", "from hub.cli import main; main()", "worker", "--loglevel", "info")
Record = tuple[str, bytes | None, bytes]


PARTITIONS: dict[str, int] = topic_partitions(Settings())


def parts_of(topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(PARTITIONS.get(topic, 6))]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_ports(count: int) -> list[int]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --- feeds ---------------------------------------------------------------------------------


@dataclass
class Feed:
    records: list[Record]
    dossiers: list[str]  # the dossier key of each record
    dossier_count: int
    seconds: float  # generation + rendering time


def make_feed(dossiers: int, days: int, start: date, seed: int, limit: int | None = None) -> Feed:
    started = time.perf_counter()
    cfg = SimConfig(
        seed=seed, dossiers=dossiers, days=days, start=start, security_code=DEFAULT_SECURITY_CODE
    )
    records: list[Record] = []
    keys: list[str] = []
    for msg in Simulation(cfg, CATALOGUE, CAL).messages():
        data = render(msg, security_code=cfg.security_code, max_bytes=cfg.max_message_bytes)
        records.append((TOPICS[msg.source], message_key(msg), data))
        keys.append(msg.dossier.key)
        if limit is not None and len(records) >= limit:
            break
    return Feed(records, keys, dossiers, time.perf_counter() - started)


# --- Kafka helpers -------------------------------------------------------------------------


async def produce_all(bootstrap: str, records: list[Record]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=10,
        max_batch_size=512 * 1024,
        max_request_size=4_000_000,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for topic, key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records) / (time.perf_counter() - started)


async def topic_total(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = parts_of(topic)
        ends = await consumer.end_offsets(parts)
        begins = await consumer.beginning_offsets(parts)
        return sum(ends[tp] - begins[tp] for tp in parts)
    finally:
        await consumer.stop()


async def edge_timestamps(
    bootstrap: str,
    topic: str,
    keep: Callable[[Any], bool] = lambda r: True,
    window: int = 400,
) -> tuple[int | None, int | None]:
    """(min, max) record timestamp in ms of records `keep` accepts, looking at the first and last
    `window` records of each partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    low: int | None = None
    high: int | None = None
    try:
        parts = parts_of(topic)
        consumer.assign(parts)
        begins = await consumer.beginning_offsets(parts)
        ends = await consumer.end_offsets(parts)
        for tp in parts:
            for first, last in (
                (begins[tp], min(ends[tp], begins[tp] + window)),
                (max(begins[tp], ends[tp] - window), ends[tp]),
            ):
                if first >= last:
                    continue
                consumer.seek(tp, first)
                pos = first
                while pos < last:
                    batch = await consumer.getmany(tp, timeout_ms=2000)
                    recs = batch.get(tp, [])
                    if not recs:
                        break
                    for r in recs:
                        pos = r.offset + 1
                        if r.offset < last and keep(r):
                            low = r.timestamp if low is None else min(low, r.timestamp)
                            high = r.timestamp if high is None else max(high, r.timestamp)
    finally:
        await consumer.stop()
    return low, high


async def group_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        parts = [tp for t in topics for tp in parts_of(t)]
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def reset_topics(cfg: Settings, extra: Iterable[str] = ()) -> None:
    """Delete the hub's topics (and `extra`), then create the hub's again: an empty feed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in [*topic_partitions(cfg), *extra] if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
        for _ in range(60):
            if not set(await admin.list_topics()) & set(doomed):
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    for attempt in range(20):
        try:
            await create_topics(cfg)
            return
        except Exception:
            if attempt == 19:
                raise
            await asyncio.sleep(1.0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- processes -----------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log: Path
    pid: int  # the Python process (py-spy's child when profiling)

    def wait_log(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited: {self.log.read_text()[-3000:]}")
            if text in self.log.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise RuntimeError(f"no {text!r} in {timeout} s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if self.pid != self.proc.pid else signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def spawn(cmd: list[str], env: dict[str, str], log: Path, profile: Path | None = None) -> Proc:
    if profile is not None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        cmd = [spy, "record", "-r", "100", "-f", "raw", "-o", str(profile), "--", *cmd]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    pid = proc.pid
    if profile is not None:  # the python child of py-spy
        for _ in range(100):
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            with contextlib.suppress(OSError):
                found = kids.read_text().split()
                if found:
                    pid = int(found[0])
                    break
            time.sleep(0.1)
    return Proc(proc, log, pid)


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def histogram_quantiles(text: str, name: str, qs: Iterable[float]) -> dict[float, float | None]:
    """Quantiles of a Prometheus histogram (upper bucket bound reached: an upper estimate)."""
    buckets = []
    for m in re.finditer(rf'^{name}_bucket\{{le="([^"]+)"\}} ([0-9.e+]+)$', text, re.M):
        buckets.append((float(m.group(1)), float(m.group(2))))
    buckets.sort()
    out: dict[float, float | None] = {}
    total = buckets[-1][1] if buckets else 0
    for q in qs:
        out[q] = next((le for le, n in buckets if total and n >= q * total), None)
    return out


# --- 1. throughput -------------------------------------------------------------------------


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


def run_throughput(cfg: Settings, feed: Feed, work: Path, profile: bool) -> dict[str, Any]:
    n = len(feed.records)
    boot = cfg.kafka_bootstrap
    out: dict[str, Any] = {"messages": n, "dossiers": feed.dossier_count}
    say(f"producing {n} messages ({feed.dossier_count} dossiers) to the inbound topics")
    out["produce_msg_s"] = run(produce_all(boot, feed.records))

    # bare aiokafka
    admin_topics = [f"bench.passthrough.{x}" for x in ("aiokafka", "faust", "faust_batched")]
    run(_create(boot, admin_topics))
    say("bare aiokafka consume->produce pass-through")
    started = time.perf_counter()
    inner = run(aiokafka_passthrough(boot, n, admin_topics[0]))
    low, high = run(edge_timestamps(boot, admin_topics[0]))
    out["aiokafka"] = {
        "msg_s": rate_from_output(n, low, high),
        "wall_s": time.perf_counter() - started,
        **inner,
    }

    # bare faust, one event at a time, then in batches as the hub takes them
    variants = (("faust", 0, admin_topics[1]), ("faust_batched", 500, admin_topics[2]))
    for name, batch, topic in variants:
        say(f"bare faust agent pass-through ({'batches of 500' if batch else 'per event'})")
        env = {
            "BENCH_BOOTSTRAP": boot,
            "BENCH_OUT": topic,
            "BENCH_DATA": str(work / name),
            "BENCH_BATCH": str(batch),
            "BENCH_APP_ID": f"bench-{name}",
        }
        proc = spawn(
            [sys.executable, str(ROOT / "bench" / "faust_passthrough.py"), "worker", "-l", "info"],
            env,
            work / f"{name}.log",
        )
        started = time.perf_counter()
        try:
            deadline = time.monotonic() + 600
            while run(topic_total(boot, topic)) < n and time.monotonic() < deadline:
                time.sleep(1.0)
        finally:
            proc.stop()
        low, high = run(edge_timestamps(boot, topic))
        out[name] = {
            "msg_s": rate_from_output(n, low, high),
            "wall_s": time.perf_counter() - started,
        }

    # the hub
    say("the hub: one worker, event clock")
    out["hub"] = run_hub_replay(cfg, feed, work, profile)
    return out


async def _create(bootstrap: str, names: list[str]) -> None:
    from aiokafka.admin import NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(t, 6, 1) for t in names if t not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


def worker_env(cfg: Settings, work: Path, app_id: str, web: int, **extra: str) -> dict[str, str]:
    return {
        "MOTCUA_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "MOTCUA_DATA_DIR": str(work / app_id),
        "MOTCUA_APP_ID": app_id,
        "MOTCUA_WEB_PORT": str(web),
        "MOTCUA_LAND_SECURITY_CODE": DEFAULT_SECURITY_CODE,
        "MOTCUA_CLOCK_SPEED": "1",
        **extra,
    }


def _is_event(r: Any) -> bool:
    return dict(r.headers or ()).get("motcua.kind") == b"event"


def _not_clock(r: Any) -> bool:
    return not (r.key or b"").startswith(b"\x00clock/")


def run_hub_replay(cfg: Settings, feed: Feed, work: Path, profile: bool) -> dict[str, Any]:
    boot = cfg.kafka_bootstrap
    n = len(feed.records)
    web = free_ports(1)[0]
    app_id = "bench-hub"
    env = worker_env(cfg, work, app_id, web, MOTCUA_CLOCK="event", MOTCUA_IDLE_TIMEOUT_S="10")
    prof = RESULTS / "hub-profile.raw" if profile else None
    proc = spawn([sys.executable, *WORKER], env, work / "hub.log", prof)
    started = time.perf_counter()
    cpu0 = None
    peak_rss = 0.0
    inbound = list(INBOUND_TOPICS.values())
    try:
        proc.wait_log("[^Worker]: Ready", 180)
        cpu0 = cpu_seconds(proc.pid)
        ends_in = run(end_offsets(boot, inbound))
        deadline = time.monotonic() + 1500
        done_at = None
        events_end: dict[TopicPartition, int] | None = None
        while time.monotonic() < deadline:
            time.sleep(2.0)
            peak_rss = max(peak_rss, rss_mb(proc.pid))
            committed = run(group_offsets(boot, app_id))
            if events_end is None:
                intake = run(group_offsets(boot, f"{app_id}-intake"))
                if all(intake.get(tp, 0) >= end for tp, end in ends_in.items()):
                    events_end = run(end_offsets(boot, [DOSSIER_EVENTS]))
                continue
            if all(committed.get(tp, 0) >= end for tp, end in events_end.items()):
                done_at = time.perf_counter()
                break
        if done_at is None:
            raise RuntimeError("the hub did not finish in time")
        time.sleep(3.0)
        cpu = cpu_seconds(proc.pid) - cpu0
        metrics = scrape(web)
        rss = rss_mb(proc.pid)
    finally:
        proc.stop()
    first, last_event = run(edge_timestamps(boot, DOSSIER_EVENTS, _is_event))
    _, last_alert = run(edge_timestamps(boot, ALERTS))
    _, last_summary = run(edge_timestamps(boot, DOSSIER_SUMMARY, _not_clock))
    last = max(x for x in (last_alert, last_summary, last_event) if x is not None)
    alerts = run(topic_total(boot, ALERTS))
    events = run(topic_total(boot, DOSSIER_EVENTS))
    summaries = run(topic_total(boot, DOSSIER_SUMMARY))
    PARTITIONS[f"{app_id}-dossiers-changelog"] = 6
    changelog = run(topic_total(boot, f"{app_id}-dossiers-changelog"))
    dossiers = re.search(r"^motcua_dossiers(?:\{[^}]*\})? ([0-9.e+]+)$", metrics, re.M)
    result: dict[str, Any] = {
        "msg_s": rate_from_output(n, first, last),
        "ingest_msg_s": rate_from_output(n, first, last_event),
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
        "rss_mb_end": rss,
        "rss_mb_peak": peak_rss,
        "dossiers_in_table": float(dossiers.group(1)) if dossiers else None,
    }
    if prof is not None:
        result["profile"] = summarize_profile(prof)
    return result


# --- py-spy profile ------------------------------------------------------------------------


def summarize_profile(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        return {"error": f"no profile at {path}"}
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [re.sub(r"\s*\(.*?([^/]+\.py):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        self_t[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    share = lambda c: round(100 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self_top": [(f, share(c)) for f, c in self_t.most_common(top)],
        "inclusive_top": [(f, share(c)) for f, c in incl.most_common(top * 3)],
    }


# --- 3. latency ----------------------------------------------------------------------------


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


async def read_whole(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic`, from the beginning until it goes quiet for 3 s."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out: list[Any] = []
    try:
        while batch := await consumer.getmany(timeout_ms=3000, max_records=5000):
            for recs in batch.values():
                out.extend(recs)
        return out
    finally:
        await consumer.stop()


async def read_alerts(bootstrap: str) -> list[tuple[int, str]]:
    records = await read_whole(bootstrap, ALERTS)
    return [(r.timestamp, decode_alert(r.value).dossier_code) for r in records if r.value]


async def read_event_times(bootstrap: str) -> dict[str, list[int]]:
    """When the intake wrote each dossier's events (record timestamps), per dossier."""
    out: dict[str, list[int]] = defaultdict(list)
    for r in await read_whole(bootstrap, DOSSIER_EVENTS):
        if r.key and _is_event(r):
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


def wait_caught_up(boot: str, group: str, timeout: float) -> float:
    """Wait until the intake of app `group` has committed every inbound message, and `group`
    every dossier event that existed by then; return the seconds waited."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    ends_in = run(end_offsets(boot, INBOUND_TOPICS.values()))
    events_end: dict[TopicPartition, int] | None = None
    while time.monotonic() < deadline:
        committed = run(group_offsets(boot, group))
        if events_end is None:
            intake = run(group_offsets(boot, f"{group}-intake"))
            if all(intake.get(tp, 0) >= end for tp, end in ends_in.items()):
                events_end = run(end_offsets(boot, [DOSSIER_EVENTS]))
                continue
        elif all(committed.get(tp, 0) >= end for tp, end in events_end.items()):
            return time.perf_counter() - started
        time.sleep(1.0)
    return float("nan")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_latency(cfg: Settings, work: Path, seconds: float, rate: float) -> dict[str, Any]:
    boot = cfg.kafka_bootstrap
    n = int(seconds * rate)
    say(f"latency feed: {n} messages of a past-dated province, at {rate:g}/s")
    feed = make_feed(max(300, n // 4), 30, date(2026, 8, 3), seed=5)
    records, keys = spaced(feed, int(GAP_S * rate), n)
    run(
        reset_topics(
            cfg, [f"bench.passthrough.{x}" for x in ("aiokafka", "faust", "faust_batched")]
        )
    )
    web = free_ports(1)[0]
    app_id = f"bench-latency-{int(rate)}"
    env = worker_env(cfg, work, app_id, web, MOTCUA_CLOCK="wall", MOTCUA_ALLOWED_LATENESS_S="0")
    proc = spawn([sys.executable, *WORKER], env, work / f"{app_id}.log")
    try:
        proc.wait_log("[^Worker]: Ready", 180)
        time.sleep(5.0)  # partitions assigned, tables recovered
        cpu0 = cpu_seconds(proc.pid)
        sent = run(paced(boot, records, rate))
        achieved = len(sent) / (sent[-1] - sent[0])
        cpu = cpu_seconds(proc.pid) - cpu0
        drain = wait_caught_up(boot, app_id, 600)
        time.sleep(3.0)
        metrics = scrape(web)
    finally:
        proc.stop()
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
    return {
        "messages": len(sent),
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
    }


# --- 4. memory per open dossier and the tick cost ------------------------------------------


def open_state_templates(count: int = 3000) -> tuple[list[bytes], Settings, Engine]:
    """Stored states (table values) of simulated dossiers still open mid-feed."""
    cfg = Settings(
        clock=ClockMode.WALL, allowed_lateness_s=0, land_security_code=DEFAULT_SECURITY_CODE
    )
    engine = Engine(CAL, Catalog.from_file(cfg.catalog_file), cfg.grace_working_days)
    start = date(2026, 6, 1)
    cut = datetime(2026, 6, 22, 12, 0, tzinfo=TZ)
    table: dict[bytes, bytes] = {}
    judge = Judge(cfg, engine, lambda: cut, table)
    sim = Simulation(SimConfig(seed=9, dossiers=count, days=30, start=start), CATALOGUE, CAL)
    for i, msg in enumerate(sim.messages()):
        if msg.sent_at >= cut:
            break
        raw = render(msg, security_code=DEFAULT_SECURITY_CODE, max_bytes=524288)
        topic = TOPICS[msg.source]
        _, decoded = decode(cfg, CAL, topic, 0, i, raw)
        for ev in decoded.events:
            judge.on_event(0, ev.dossier_code.encode(), encode_event(ev))
    templates = [v for k, v in table.items() if peek(v)[1] is not None]
    return templates, cfg, engine


def run_memory_ticks(sizes: list[int], due_per_tick: int = 10, ticks: int = 40) -> dict[str, Any]:
    say("memory/tick: building open-dossier templates")
    templates, cfg, engine = open_state_templates()
    states = [DossierState.loads(v) for v in templates]
    sizes_b = [len(v) for v in templates]
    out: dict[str, Any] = {
        "templates": len(templates),
        "value_bytes_mean": statistics.mean(sizes_b),
        "value_bytes_p90": pct([float(s) for s in sizes_b], 0.9),
        "by_n": {},
    }
    base = to_ms(datetime(2026, 6, 22, 12, 0, tzinfo=TZ))
    step = 1000  # one dossier due per simulated second, in key order
    for n in sizes:
        say(f"memory/tick: {n} open dossiers")
        gc.collect()
        tracemalloc.start()
        table: dict[bytes, bytes] = {}
        for i in range(n):
            state = states[i % len(states)]
            state.next_wake_ms = base + i * step  # the value as the judge would write it
            table[f"000.00.{i % 97:02d}.H49-bench-{i:08d}".encode()] = state.dumps()
        table_bytes = tracemalloc.get_traced_memory()[0]
        now = [base - 1]
        judge = Judge(cfg, engine, lambda now=now: datetime.fromtimestamp(now[0] / 1000, TZ), table)
        t0 = time.perf_counter()
        judge.on_clock(0, b"{}")  # builds the heap from the table: nothing due yet
        rebuild_s = time.perf_counter() - t0
        total_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        empty: list[float] = []
        busy: list[float] = []
        for k in range(ticks):
            t0 = time.perf_counter()
            judge.on_clock(0, b"{}")  # nothing newly due
            empty.append(time.perf_counter() - t0)
            now[0] = base + (k + 1) * due_per_tick * step - 1
            t0 = time.perf_counter()
            judge.on_clock(0, b"{}")
            busy.append(time.perf_counter() - t0)
        heap = judge._heaps[0]
        out["by_n"][n] = {
            "bytes_per_dossier_table": table_bytes / n,
            "bytes_per_dossier_table_heap": total_bytes / n,
            "heap_entries": len(heap),
            "heap_rebuild_s": rebuild_s,
            "tick_empty_us_median": 1e6 * statistics.median(empty),
            "tick_10_due_ms_median": 1e3 * statistics.median(busy),
            "tick_10_due_ms_p90": 1e3 * pct(busy, 0.9),
        }
        del judge, table, heap
        gc.collect()
    return out


# --- the report ----------------------------------------------------------------------------


def fmt(x: Any, spec: str = ",.0f") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "n/a"
    return format(x, spec)


def report(res: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    tp = res.get("throughput")
    if tp:
        a, f, h = tp["aiokafka"]["msg_s"], tp["faust"]["msg_s"], tp["hub"]["msg_s"]
        rows += [
            ("throughput: bare aiokafka pass-through", fmt(a) + " msg/s", "", ""),
            (
                "throughput: bare faust agent pass-through",
                fmt(f) + " msg/s",
                f"{f / a:.2f} x aiokafka",
                "",
            ),
            (
                "throughput: bare faust pass-through, batches of 500",
                fmt(tp["faust_batched"]["msg_s"]) + " msg/s",
                f"{tp['faust_batched']['msg_s'] / a:.2f} x aiokafka",
                "",
            ),
            (
                "throughput: hub worker (ingest+judge, event clock)",
                fmt(h) + " msg/s",
                f"{h / a:.2f} x aiokafka, {h / f:.2f} x faust",
                "PASS" if h >= 7000 and h >= 0.5 * a else "MISS (>= 7000, >= 0.5 x aiokafka)",
            ),
            ("  of which ingest stage alone", fmt(tp["hub"]["ingest_msg_s"]) + " msg/s", "", ""),
        ]
        secs = tp["hub"]["seconds"]
        by_msgs = YEAR_MESSAGES / tp["messages"]
        by_dossiers = YEAR_DOSSIERS / tp["dossiers"]
        amp = tp["hub"]["records_out_per_message"]
        rows += [
            ("  records written per inbound message",
             f"{sum(amp.values()):.2f}",
             ", ".join(f"{k} {v:.2f}" for k, v in amp.items()), ""),
            (f"replay: {tp['dossiers']:,} dossiers / {tp['messages']:,} msgs "
             f"(1/{by_msgs:.0f} of 25 M msgs)", f"{secs:,.0f} s",
             f"worker cpu {tp['hub']['cpu_s']:,.0f} s", ""),
            ("replay: province-year, 25 M msgs, EXTRAPOLATED",
             f"{secs * by_msgs / 3600:,.1f} h", f"x{by_msgs:.0f}, one worker, linear", ""),
            ("replay: province-year, 3 M dossiers, EXTRAPOLATED",
             f"{secs * by_dossiers / 3600:,.1f} h",
             f"x{by_dossiers:.0f} ({tp['messages'] * by_dossiers / 1e6:.0f} M msgs at the "
             "simulator's ratio)", ""),
            ("worker RSS after replay", f"{tp['hub']['rss_mb_end']:,.0f} MB",
             f"peak {tp['hub']['rss_mb_peak']:,.0f} MB", ""),
        ]  # fmt: skip
    for lat in res.get("latency") or []:
        r = f"{lat['rate_achieved']:,.0f} msg/s"
        rows += [
            (f"latency produced->alert at {r}: p50", fmt(lat["p50_ms"], ",.1f") + " ms",
             f"{lat['measured']:,} of {lat['alerts']:,} alerts measured", ""),
            (f"latency produced->alert at {r}: p99", fmt(lat["p99_ms"], ",.1f") + " ms",
             f"max {fmt(lat['max_ms'], ',.0f')} ms; drained {fmt(lat['drain_s_after_feed'], '.0f')}"
             " s after the feed",
             "PASS" if lat["p99_ms"] < 500 else "MISS (< 500 ms)"),
            ("  hub histogram (ingest->alert sent) p50 / p99",
             f"<= {lat['hub_histogram_p50_le_s']} s / <= {lat['hub_histogram_p99_le_s']} s",
             f"worker cpu {100 * lat['worker_cpu_share']:.0f}% while fed", ""),
            ("  of which intake (sent->event written) p50 / p99",
             f"{fmt(lat['intake_p50_ms'], ',.0f')} / {fmt(lat['intake_p99_ms'], ',.0f')} ms",
             "", ""),
            ("  of which judge (event written->alert) p50 / p99",
             f"{fmt(lat['judge_p50_ms'], ',.0f')} / {fmt(lat['judge_p99_ms'], ',.0f')} ms",
             "", ""),
        ]  # fmt: skip
    mem = res.get("memory")
    if mem:
        ticks = []
        for n, m in mem["by_n"].items():
            rows.append(
                (
                    f"memory per open dossier, N={int(n):,}",
                    f"{m['bytes_per_dossier_table_heap']:,.0f} B",
                    f"value {mem['value_bytes_mean']:,.0f} B mean",
                    "PASS" if m["bytes_per_dossier_table_heap"] < 2048 else "MISS (< 2 KB)",
                )
            )
        for n, m in mem["by_n"].items():
            ticks.append(m["tick_10_due_ms_median"])
            rows.append(
                (
                    f"tick waking 10 due, N={int(n):,} (empty tick)",
                    f"{m['tick_10_due_ms_median']:,.2f} ms",
                    f"({m['tick_empty_us_median']:,.1f} us); rebuild {m['heap_rebuild_s']:.1f} s",
                    "",
                )
            )
        if ticks:
            flat = max(ticks) / min(ticks) < 2.0
            rows.append(
                (
                    "tick cost flat as N grows",
                    f"x{max(ticks) / min(ticks):.2f}",
                    "max/min over N",
                    "PASS" if flat else "MISS",
                )
            )
    width = [max(len(r[i]) for r in rows) for i in range(4)] if rows else [0] * 4
    lines = ["  ".join(c.ljust(width[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)


def git_state() -> str:
    """The commit the workers run, and whether the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return head or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.01, help="share of a province-year")
    ap.add_argument("--latency-seconds", type=float, default=45.0)
    ap.add_argument("--rates", default="1000,300", help="latency feeds, messages/s")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="open dossiers, memory/tick")
    ap.add_argument("--only", default="throughput,latency,memory")
    ap.add_argument("--profile", action="store_true", help="py-spy the hub worker (throughput)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": datetime.now(TZ).isoformat(),
        "args": vars(args),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    results["git"] = git_state()
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    port, cport = free_ports(2)
    cfg = Settings(
        data_dir=work / "broker",
        broker_port=port,
        broker_controller_port=cport,
        kafka_bootstrap=f"127.0.0.1:{port}",
        broker_heap="1g",
    )
    started = time.perf_counter()
    try:
        if only & {"throughput", "latency"}:
            say(f"starting a broker at {cfg.kafka_bootstrap} (data in {work})")
            broker.start(cfg)
            run(create_topics(cfg))
        if "throughput" in only:
            sample = make_feed(300, 365, date(2025, 11, 3), seed=7)
            per_dossier = len(sample.records) / 300
            dossiers = int(YEAR_MESSAGES * args.scale / per_dossier)
            say(
                f"generating a province-year at scale {args.scale:g} of its messages: {dossiers} "
                f"dossiers (the simulator sends {per_dossier:.1f} messages per dossier)"
            )
            feed = make_feed(dossiers, 365, date(2025, 11, 3), seed=7)
            results["feed_generation_msg_s"] = len(feed.records) / feed.seconds
            results["throughput"] = run_throughput(cfg, feed, work, args.profile)
            del feed
        if "latency" in only:
            results["latency"] = [
                run_latency(cfg, work, args.latency_seconds, float(rate))
                for rate in args.rates.split(",")
            ]
        if "memory" in only:
            results["memory"] = run_memory_ticks([int(s) for s in args.sizes.split(",")])
    finally:
        with contextlib.suppress(Exception):
            broker.stop(cfg)
        shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    path = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(report(results))
    prof = results.get("throughput", {}).get("hub", {}).get("profile")
    if prof and "self_top" in prof:
        print(f"\nhub worker profile ({prof['samples']} samples), self time:")
        for name, share in prof["self_top"][:15]:
            print(f"  {share:5.1f}%  {name}")
    print(f"\n{results['seconds']:.0f} s in all at {results['git']}; results in {path}")


if __name__ == "__main__":
    main()
