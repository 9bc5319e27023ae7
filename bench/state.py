"""A province's state on one worker (issue 14): `python -m bench state --sizes 10000,100000`.

Per size N: N dossier summaries of a realistic mix (received over the two years before the
bench's instant, most of them closed, some late, paused, with supplement requests or apologies;
several hundred units, 25 procedures each) written straight to `hub.dossier.summary` on a
broker of its own (`hub.testing.LocalBroker`), and N dossier states to the judge's changelog
(`bench.table.fill_changelog`: real states of a simulated province, 92 % closed; unless
`--no-table`), then a `motcua-hub worker` (wall clock from the states' instant, RocksDB) started:
- from an empty data directory (it reads the whole topic), then stopped and started again on
  its data directory (it reads from its stored positions), and two workers side by side;
- measured: the time from the process's start to serving (`/health`: every summary loaded and
  read, and the judge's log line `restored partitions`), its resident memory (serving, after
  the queries, and the peak), the bytes of its data directory, and `/api/units` latency for
  several periods (each request made unique, so the per-tick cache of the web face never
  answers it: the computation is measured).
Prints one JSON document with the commit, and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.processes import rss_mb
from bench.report import git_state, pct, write_results
from bench.table import Templates, fill_changelog, state_templates
from hub import testing
from hub.domain.alerts import AlertType
from hub.domain.calendar import TZ
from hub.domain.stats import Summary, ms
from hub.testing import LocalBroker, Process, produce
from hub.topics import DOSSIER_SUMMARY, create_topics

DAY = 86_400_000
APP = "bench-state"
PERIODS = [
    "period=all",
    "period=year",
    "period=month",
    "period=today",
    "period=year&by_procedure=1",
    "from={month_ago}&to={today}",  # dates: day-aligned, ends today
    "from={year_ago}&to={last_month}",  # ends before now: the received index, then unit_stats
]


def make_summaries(n: int, now_ms: int, seed: int = 14, units: int = 300) -> Iterator[Summary]:
    """`n` summaries received over the two years before `now_ms`: ~92% closed (almost all of
    those older than a month), one in eight late, some paused, supplements and apologies."""
    rng = random.Random(seed)
    codes = [f"000.{u // 100:02d}.{u % 100:02d}.H{12 + u % 50:02d}" for u in range(units)]
    names = {c: f"UBND đơn vị {i}" for i, c in enumerate(codes)}
    pool = [f"{1 + p // 100}.00{p:04d}" for p in range(400)]
    procs = {c: rng.sample(pool, 25) for c in codes}
    weights = [1 / (1 + i % 40) for i in range(units)]  # a few big units, many small ones
    seq: dict[tuple[str, int], int] = {}
    for _ in range(n):
        unit = rng.choices(codes, weights)[0]
        age = int(rng.triangular(0, 730, 0) * DAY)  # more recent dossiers than old ones
        received = now_ms - age - rng.randrange(DAY)
        day = datetime.fromtimestamp(received / 1000, TZ)
        k = (unit, day.toordinal())
        seq[k] = seq.get(k, 0) + 1
        code = f"{unit}-{day:%y%m%d}-{seq[k]:04d}"
        due = received + rng.choice((3, 5, 7, 10, 15, 20)) * DAY
        late = rng.random() < 0.12
        closed_at = (
            (due + rng.randrange(1, 20) * DAY) if late else received + rng.randrange(due - received)
        )
        closed = None
        if closed_at < now_ms and rng.random() < (0.99 if age > 30 * DAY else 0.6):
            closed = (closed_at, rng.random() < 0.97)
        alerts: list[tuple[str, int, int | None]] = []
        raised = due + DAY
        if closed is None or closed[0] > raised:
            alerts.append((AlertType.PROCESSING_LATE.value, raised, closed[0] if closed else None))
        paused: list[tuple[int, int | None]] = []
        supplements: list[int] = []
        if rng.random() < 0.1:
            start = received + DAY
            end = start + rng.randrange(1, 10) * DAY
            paused.append((start, end if end < now_ms or closed else None))
            supplements.append(start)
        apologies = [due + rng.randrange(DAY)] if late and rng.random() < 0.3 else []
        yield Summary(
            code=code,
            unit=unit,
            unit_name=names[unit],
            procedure=rng.choice(procs[unit]),
            procedure_name="Thủ tục hành chính",
            in_catalog=True,
            channel=rng.choice(("1", "2", "2")),
            received=received,
            closed=closed,
            due=[(received, due)],
            paused=paused,
            supplements=supplements,
            apologies=[t for t in apologies if t < now_ms],
            alerts=[a for a in alerts if a[1] < now_ms or closed is None],
            holder=(names[unit], "Cán bộ một cửa"),
            holder_since=received,
        )


async def write_summaries(bootstrap: str, n: int, now_ms: int) -> tuple[int, int]:
    """(dossiers received by `now_ms`, bytes written): the figures' sanity check."""
    received, size = 0, 0

    def records() -> Iterator[tuple[str, bytes, bytes]]:
        nonlocal received, size
        for s in make_summaries(n, now_ms):
            value = s.dumps()
            size += len(value)
            received += s.received is not None and s.received <= now_ms
            yield DOSSIER_SUMMARY, s.code.encode(), value

    await produce(bootstrap, records(), linger_ms=50, max_batch_size=1_048_576)
    return received, size


def fetch(port: int, path: str, timeout: float = 120.0) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        body: bytes = r.read()
        return body


def get(port: int, path: str, timeout: float = 120.0) -> Any:
    return json.loads(fetch(port, path, timeout))


@dataclass
class Run:
    """One size's broker and the instant its worker's clock starts at."""

    boot: str
    at: datetime
    table: bool
    work: Path
    started: dict[int, float] = field(default_factory=dict)
    # the wall instant the workers' clock is at `at`: the same for every start, so a restarted
    # worker's clock goes on from where the stopped one was, as a real clock does
    origin_at: datetime = field(default_factory=lambda: datetime.now(TZ))

    def start(self, data: Path, port: int, instance: str, log: str) -> Process:
        fields: dict[str, object] = {"clock": "wall", "state_store": "rocksdb"}
        if self.table:  # the states were judged at `at`: the worker's clock starts there
            fields |= {
                "clock_origin": self.at.isoformat(),
                "clock_origin_at": self.origin_at.isoformat(),
                "allowed_lateness_s": 0,
            }
        env = testing.worker_env(
            self.boot, data, app_id=APP, web_port=port, instance_id=instance, **fields
        )
        began = time.monotonic()
        worker = testing.start_worker(env, self.work / log)
        self.started[worker.pid] = began
        return worker

    def serving(self, worker: Process, port: int, n: int, timeout: float) -> float:
        """Seconds from the process's start until it serves: every summary read and counted,
        and (with the table) the judge's partitions restored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if worker.popen.poll() is not None:
                raise RuntimeError(f"the worker exited: {worker.tail()}")
            try:
                s = get(port, "/health", timeout=5)["summaries"]
                done = s["loaded"] and s["caught_up"] and s["dossiers"] >= n
                if done and (not self.table or worker.logged("restored partitions")):
                    return time.monotonic() - self.started[worker.pid]
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"not serving {n} summaries after {timeout:.0f} s: {worker.tail()}")

    def latencies(self, port: int, requests: int) -> dict[str, dict[str, object]]:
        today = self.at.astimezone(TZ).date()
        dates = {
            "today": today.isoformat(),
            "month_ago": (today - timedelta(days=30)).isoformat(),
            "year_ago": (today - timedelta(days=365)).isoformat(),
            "last_month": (today.replace(day=1) - timedelta(days=1)).isoformat(),
        }
        out = {}
        unit = get(port, "/api/units?period=all")[0]["unit_code"]
        for query in [*PERIODS, "unit page"]:
            path = f"/api/units/{unit}?period=month"
            if query != "unit page":
                path = "/api/units?" + query.format(**dates)
            times, errors = [], []
            count = requests if "year_ago" not in query else 3  # seconds each at 1 M
            for i in range(count):
                t0 = time.perf_counter()
                try:
                    # unique: the tick cache never answers it; the body read, not parsed (a
                    # by-procedure answer is 8 MB of JSON: parsing it is the client's time)
                    fetch(port, f"{path}&_={i}", timeout=600)
                except OSError as exc:
                    errors.append(repr(exc)[:200])
                    continue
                times.append((time.perf_counter() - t0) * 1000)
            out[query.format(**dates)] = {
                "errors": errors,
                "n": len(times),
                "p50_ms": round(pct(times, 0.5), 1),
                "p99_ms": round(pct(times, 0.99), 1),
            }
        return out


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x.split()[1] for x in status.splitlines() if x.startswith("VmHWM"))) / 1024


def run_size(n: int, work: Path, requests: int, templates: Templates | None) -> dict[str, Any]:
    out: dict[str, Any] = {"dossiers": n}
    with LocalBroker(work / f"broker-{n}", broker_heap="1g") as kafka:
        at = templates.at if templates is not None else datetime.now(TZ)
        run = Run(kafka.bootstrap, at, templates is not None, work)
        t0 = time.perf_counter()
        received, size = asyncio.run(write_summaries(run.boot, n, ms(at)))
        out["summaries_write_s"] = round(time.perf_counter() - t0, 1)
        out["summary_bytes"] = size
        if templates is not None:
            asyncio.run(create_topics(kafka.settings.model_copy(update={"app_id": APP})))
            out["changelog"] = asyncio.run(fill_changelog(run.boot, APP, n, templates))
        port = testing.free_ports(1)[0]
        data = work / f"data-{n}"
        timeout = 180 + n / 500
        # 1. from an empty data directory: the whole topic (and changelog) read
        w = run.start(data, port, "w0", f"w0-{n}.log")
        try:
            out["empty_start_s"] = round(run.serving(w, port, n, timeout), 1)
            rows = get(port, "/api/units?period=all")
            out["received"] = {"written": received, "served": sum(r["received"] for r in rows)}
            out["units"] = len(rows)
            out["rss_mb_empty_start"] = round(rss_mb(w.pid), 1)
            out["peak_rss_mb_empty_start"] = round(peak_mb(w.pid), 1)
        finally:
            out["stopped_gracefully"] = w.stop(timeout=120)
        # 2. restarted on its data directory: from the stored positions and aggregates
        w = run.start(data, port, "w0", f"w0-{n}-again.log")
        try:
            out["restart_s"] = round(run.serving(w, port, n, timeout), 1)
            out["messages_read_after_restart"] = get(port, "/health")["summaries"]["messages_read"]
            time.sleep(3.0)  # a few ticks
            out["rss_mb_serving"] = round(rss_mb(w.pid), 1)
            out["latency"] = run.latencies(port, requests)
            out["rss_mb_after_queries"] = round(rss_mb(w.pid), 1)
            out["peak_rss_mb_restart"] = round(peak_mb(w.pid), 1)
        finally:
            w.stop(timeout=120)
        out["disk_bytes"] = du(data)
        out["disk_bytes_summaries"] = sum(du(p) for p in data.glob(f"{APP}/*/summaries"))
        shutil.rmtree(data, ignore_errors=True)
        # 3. two workers side by side, each from an empty directory of its own
        ports = testing.free_ports(2)
        pair = [
            run.start(work / f"data-{n}-{i}", ports[i], f"w{i}", f"p{i}-{n}.log") for i in range(2)
        ]
        try:
            out["two_workers"] = [
                {
                    "empty_start_s": round(run.serving(w, p, n, timeout * 2), 1),
                    "rss_mb": round(rss_mb(w.pid), 1),
                }
                for w, p in zip(pair, ports, strict=True)
            ]
        finally:
            for w in pair:
                w.stop(timeout=120)
        for i in range(2):
            shutil.rmtree(work / f"data-{n}-{i}", ignore_errors=True)
    return out


def run_state(sizes: list[int], requests: int = 100, table: bool = True) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-state-"))
    try:
        results: dict[str, Any] = {"sizes": []}
        templates = None
        if table:
            print("state bench: building the dossier state templates", flush=True)
            templates = state_templates()
            results["table_templates"] = {
                "closed_share": round(templates.closed_share, 3),
                "mean_state_bytes": round(templates.mean_bytes),
                "at": templates.at.isoformat(),
            }
        for n in sizes:
            print(f"state bench: {n} dossiers", flush=True)
            results["sizes"].append(run_size(n, work, requests, templates))
            print(json.dumps(results["sizes"][-1]), flush=True)
    except BaseException:
        print(f"state bench failed: its logs are kept in {work}", flush=True)
        raise
    shutil.rmtree(work, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench state", description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,300000,1000000")
    ap.add_argument("--requests", type=int, default=100, help="per period")
    ap.add_argument("--no-table", action="store_true", help="the summary topic only")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"bench": "state", "git": git_state(), "args": vars(args)}
    results["started"] = datetime.now(TZ).isoformat()
    results["load_avg"] = os.getloadavg()
    sizes = [int(s) for s in args.sizes.split(",")]
    results |= run_state(sizes, args.requests, not args.no_table)
    results["load_avg_end"] = os.getloadavg()
    results["seconds"] = round(time.perf_counter() - started)
    path = write_results(results)
    print(json.dumps(results, indent=2))
    print(f"results in {path}")


if __name__ == "__main__":
    main()
