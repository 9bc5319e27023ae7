"""Memory per open dossier and the cost of a clock tick, in this process, without Kafka.

A judge on a plain dict table (hub.testing.dict_judge) holding N open dossiers (`--sizes`,
default 10k, 100k, 1M: real stored states of open simulated dossiers, cycled under distinct
keys): tracemalloc'd bytes per dossier (table + deadline heap), the time to rebuild the deadline
heap from the table (as after a restart or rebalance), and the cost of a clock tick that wakes
10 due dossiers (and of one that wakes none).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from bench.kafka import CAL, CATALOGUE, say
from bench.report import pct
from hub.codec import encode_event
from hub.domain.calendar import TZ
from hub.domain.engine import Engine
from hub.protocol import ClockRecord, encode_clock
from hub.settings import ClockMode, Settings
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.simulate.formats import TOPICS, render
from hub.simulate.province import SimConfig, Simulation
from hub.stream.ingest import decode
from hub.stream.state import DossierState, peek, to_ms
from hub.testing import dict_judge

# a worker's clock tick; under the wall clock only its arrival matters, not what it says
TICK = encode_clock(ClockRecord(wall_ms=0, expect=0, marks={}))


def open_state_templates(count: int = 3000) -> tuple[list[bytes], Settings, Engine]:
    """Stored states (table values) of simulated dossiers still open mid-feed."""
    cfg = Settings(
        clock=ClockMode.WALL, allowed_lateness_s=0, land_security_code=DEFAULT_SECURITY_CODE
    )
    start = date(2026, 6, 1)
    cut = datetime(2026, 6, 22, 12, 0, tzinfo=TZ)
    table: dict[bytes, bytes] = {}
    judge = dict_judge(cfg, clock=lambda: cut, table=table)
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
    return templates, cfg, judge.engine


def _clock_at(now_ms: list[int]) -> Callable[[], datetime]:
    """A clock that reads `now_ms[0]`, which the caller moves."""
    return lambda: datetime.fromtimestamp(now_ms[0] / 1000, TZ)


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
        judge = dict_judge(cfg, clock=_clock_at(now), table=table, engine=engine)
        t0 = time.perf_counter()
        judge.on_clock(0, TICK)  # builds the heap from the table: nothing due yet
        rebuild_s = time.perf_counter() - t0
        total_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        empty: list[float] = []
        busy: list[float] = []
        for k in range(ticks):
            t0 = time.perf_counter()
            judge.on_clock(0, TICK)  # nothing newly due
            empty.append(time.perf_counter() - t0)
            now[0] = base + (k + 1) * due_per_tick * step - 1
            t0 = time.perf_counter()
            judge.on_clock(0, TICK)
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
