"""The judge's dossier table at a province's size: one worker's memory, disk and restart time.

`python -m bench.table --sizes 10000,100000,1000000` (a broker of its own). Per size N:

1. `fill_changelog` writes N dossier states straight to the judge's changelog topic
   (`<app id>-dossiers-changelog`, keyed and partitioned as the judge writes them): real stored
   states of simulated dossiers judged at an instant, open and closed within retention, cycled
   under distinct dossier codes;
2. a worker (RocksDB store, wall clock warped to that instant) starts on an empty data
   directory: the time from its start until its judge has restored every partition (it then
   serves: it judges, and answers traces), its RSS once its deadline index is built, and the
   store's bytes on disk;
3. it is stopped (SIGTERM) and started again on its data directory: the same figures, the
   changelog now read from the offsets its store reaches.

Only the judge's table is measured: the summary topic is left empty (bench/state.py measures
the summary side and the whole state). `fill_changelog` and `state_templates` are for it too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.kafka import CAL, CATALOGUE, say
from bench.processes import rss_mb
from hub import testing
from hub.codec import encode_event
from hub.domain.calendar import TZ
from hub.protocol import ClockRecord, encode_clock, is_internal_key
from hub.settings import ClockMode, Settings
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.simulate.formats import TOPICS, render
from hub.simulate.province import SimConfig, Simulation
from hub.stream.ingest import decode
from hub.stream.state import DossierState
from hub.testing import LocalBroker, Process, dict_judge
from hub.topics import changelog_topic, create_topics
from hub.web import dossier_partition

SIM_START = date(2026, 3, 2)
SIM_DAYS = 60
# the instant the states are judged at: most dossiers received in the first weeks are closed
# (and kept until MOTCUA_RETENTION_DAYS after closing), the later ones still open
AT = datetime(2026, 5, 15, 12, 0, tzinfo=TZ)
RESTORED = re.compile(r"restored partitions \[[\d, ]*\] from \S+: (\d+) records in ([\d.]+) s")


@dataclass(frozen=True)
class Templates:
    """Stored states of simulated dossiers as the judge left them at `at`, per partition."""

    by_partition: dict[int, list[bytes]]
    closed_share: float  # of the states: closed dossiers, waiting for their expiry
    mean_bytes: float
    at: datetime


def state_templates(partitions: int = 6, count: int = 2000) -> Templates:
    """Real stored states: a simulated province judged up to `AT` (hub.testing.dict_judge, as
    hub.testing.judge_once does a dossier), re-encoded for each partition."""
    cfg = Settings(
        clock=ClockMode.WALL, allowed_lateness_s=0, land_security_code=DEFAULT_SECURITY_CODE
    )
    table: dict[bytes, bytes] = {}
    judge = dict_judge(cfg, clock=lambda: AT, table=table)
    sim = Simulation(
        SimConfig(seed=5, dossiers=count, days=SIM_DAYS, start=SIM_START), CATALOGUE, CAL
    )
    for i, msg in enumerate(sim.messages()):
        if msg.sent_at >= AT:
            break
        raw = render(msg, security_code=DEFAULT_SECURITY_CODE, max_bytes=524288)
        _, decoded = decode(cfg, CAL, TOPICS[msg.source], 0, i, raw)
        for ev in decoded.events:
            judge.on_event(0, ev.dossier_code.encode(), encode_event(ev))
    judge.on_clock(0, encode_clock(ClockRecord(wall_ms=0, expect=0, marks={})))  # due at AT
    states = [DossierState.loads(v) for k, v in table.items() if not is_internal_key(k)]
    closed = 0
    for s in states:
        result = judge.engine.evaluate("x", s.events, dict(s.emitted), AT, AT)
        closed += result.facts is not None and result.facts.closed_at is not None
    by_partition: dict[int, list[bytes]] = {}
    for p in range(partitions):
        by_partition[p] = []
        for s in states:
            s.partition = p
            by_partition[p].append(s.dumps())
    sizes = [len(v) for v in by_partition[0]]
    return Templates(by_partition, closed / len(states), sum(sizes) / len(sizes), AT)


def dossier_code(i: int) -> bytes:
    """A code shaped like a one-stop code (unit, date, sequence), distinct per i."""
    return f"000.00.{i % 89:02d}.H49-{260301 + i // 100_000:06d}-{i % 100_000:05d}".encode()


async def fill_changelog(
    bootstrap: str, app_id: str, count: int, templates: Templates, partitions: int = 6
) -> dict[str, Any]:
    """Write `count` dossier states to `<app_id>-dossiers-changelog` (which must exist), each
    on the partition the judge would keep it on; what was written."""
    topic = changelog_topic(app_id)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    written = 0
    started = time.perf_counter()
    try:
        pending = []
        for i in range(count):
            key = dossier_code(i)
            p = dossier_partition(key, partitions)
            options = templates.by_partition[p]
            value = options[i % len(options)]
            pending.append(await producer.send(topic, value, key=key, partition=p))
            written += len(value)
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {
        "states": count,
        "bytes": written,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _worker(cfg: Settings, data: Path, app_id: str, port: int, log: Path) -> Process:
    env = testing.worker_env(
        cfg.kafka_bootstrap,
        data,
        app_id=app_id,
        web_port=port,
        land_security_code=DEFAULT_SECURITY_CODE,
        clock="wall",
        allowed_lateness_s=0,
        clock_origin=AT.isoformat(),
        state_store="rocksdb",
    )
    return testing.start_worker(env, log)


def _serve(cfg: Settings, data: Path, app_id: str, port: int, log: Path) -> dict[str, Any]:
    """Start a worker, until it serves; its figures; then stop it."""
    began = time.monotonic()
    worker = _worker(cfg, data, app_id, port, log)
    try:
        worker.wait_log("restored partitions", timeout=1800)
        serving = time.monotonic() - began
        time.sleep(6.0)  # a few clock ticks: the deadline index is built
        found = RESTORED.findall(log.read_text())
        status = Path(f"/proc/{worker.pid}/status").read_text()
        peak = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM"))
        figures = {
            "start_to_serving_s": round(serving, 1),
            "changelog_records_read": sum(int(n) for n, _ in found),
            "restore_s": round(sum(float(s) for _, s in found), 1),
            "rss_mb": round(rss_mb(worker.pid), 1),
            "peak_rss_mb": round(peak / 1024, 1),
        }
    finally:
        stopped = worker.stop(timeout=120)
    figures["stopped_gracefully"] = stopped
    stores = list(data.glob(f"{app_id}/*/dossiers"))
    figures["disk_mb"] = round(
        sum(f.stat().st_size for s in stores for f in s.rglob("*") if f.is_file()) / 2**20, 1
    )
    return figures


def run_table(sizes: list[int], work: Path) -> dict[str, Any]:
    say("table: building state templates")
    templates = state_templates()
    out: dict[str, Any] = {
        "templates": len(templates.by_partition[0]),
        "closed_share": round(templates.closed_share, 3),
        "mean_state_bytes": round(templates.mean_bytes),
        "at": templates.at.isoformat(),
        "sizes": {},
    }
    with LocalBroker(work / "broker") as kafka:
        for n in sizes:
            app_id = f"table{n}"
            cfg = kafka.settings.model_copy(update={"app_id": app_id})
            asyncio.run(create_topics(cfg))
            say(f"table {n}: filling the changelog")
            filled = asyncio.run(fill_changelog(cfg.kafka_bootstrap, app_id, n, templates))
            data = work / app_id
            port = testing.free_ports(1)[0]
            say(f"table {n}: a worker on an empty data directory")
            cold = _serve(cfg, data, app_id, port, work / f"{app_id}-cold.log")
            say(f"table {n}: the worker again, on its data directory")
            warm = _serve(cfg, data, app_id, port, work / f"{app_id}-warm.log")
            out["sizes"][str(n)] = {"filled": filled, "empty_data_dir": cold, "kept_state": warm}
            shutil.rmtree(data, ignore_errors=True)
            print_row(n, out["sizes"][str(n)])
    return out


def print_row(n: int, row: dict[str, Any]) -> None:
    cold, warm = row["empty_data_dir"], row["kept_state"]
    print(
        f"{n:>9} dossiers  changelog {row['filled']['bytes'] / 2**20:7.1f} MB  "
        f"disk {cold['disk_mb']:7.1f} MB | empty dir: serving in "
        f"{cold['start_to_serving_s']:6.1f} s "
        f"({cold['changelog_records_read']} records), RSS {cold['rss_mb']:6.1f} MB "
        f"(peak {cold['peak_rss_mb']:6.1f}) | kept state: serving in "
        f"{warm['start_to_serving_s']:5.1f} s ({warm['changelog_records_read']} records), "
        f"RSS {warm['rss_mb']:6.1f} MB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.table", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="dossier states")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-table-"))
    try:
        result = run_table(sizes, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "sizes"}))


if __name__ == "__main__":
    main()
