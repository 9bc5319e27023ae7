"""What one big dossier costs the judge: add n events, then evaluate it once.

Run as `python -m bench.bench_dossier [--sizes 10,100,1000,5000] [--stream 1000]`. No Kafka.

For each kind of event (apologies, one-stop steps with deadlines, land hand-overs with deadlines,
one-stop and land supplement pauses and tax notices (one a night, each moving the due date), civil
closings, all but the closings mixed) and each size n, a dossier of one snapshot and
n - 1 such events is built in a `DossierState` (has + add per event, as the judge does), then
evaluated once as the judge does after a wake-up: `Engine.evaluate` against a clock past every
event, plus the dossier's statistics summary (`summarize`, what the summary publisher computes
after each evaluation). Prints the median of a few runs, in milliseconds.

`--stream N` also feeds dossiers of up to N events through `Judge.on_event` one event at a time
under the wall clock (every event evaluated at once): the cost of a hostile feed before the
dossier bound (`MOTCUA_MAX_EVENTS_PER_DOSSIER`) refuses more events.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge
from hub.testing import BIG_CODE, BIG_KINDS, BIG_T0, big_dossier, judge_once

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = BIG_CODE
NOW = BIG_T0 + timedelta(days=20 * 366)  # past every event of the largest dossier
KINDS = BIG_KINDS


def dossier(kind: str, n: int) -> list[tuple[DossierEvent, bytes]]:
    return big_dossier(kind, n)


def add_and_evaluate(events: list[tuple[DossierEvent, bytes]]) -> None:
    judge_once(events, ENGINE, NOW)


def stream(events: list[tuple[DossierEvent, bytes]]) -> None:
    cfg = Settings(clock=ClockMode.WALL, max_events_per_dossier=1_000_000)
    judge = Judge(cfg, ENGINE, lambda: NOW, {})
    for _, blob in events:
        judge.on_event(0, CODE.encode(), blob)


def timed(run: Callable[[], None], budget_s: float = 5.0) -> float:
    """Median wall time of up to 5 runs (fewer when one run takes long), in ms."""
    times: list[float] = []
    while len(times) < 5 and sum(times) < budget_s:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_dossier")
    ap.add_argument("--sizes", default="10,100,1000,5000")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--stream", type=int, default=0, help="also on_event per event, up to N")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    print("add + evaluate one dossier of n events, ms (median)")
    print(f"{'kind':<10}" + "".join(f"{n:>12}" for n in sizes))
    for kind in kinds:
        cells = []
        for n in sizes:
            events = dossier(kind, n)
            cells.append(timed(lambda events=events: add_and_evaluate(events)))  # type: ignore[misc]
        print(f"{kind:<10}" + "".join(f"{c:>12.1f}" for c in cells))
    if args.stream:
        small = [n for n in sizes if n <= args.stream]
        print(f"\nJudge.on_event per event, wall clock, whole dossier, ms (n <= {args.stream})")
        print(f"{'kind':<10}" + "".join(f"{n:>12}" for n in small))
        for kind in kinds:
            cells = []
            for n in small:
                events = dossier(kind, n)
                cells.append(timed(lambda events=events: stream(events), budget_s=1.0))  # type: ignore[misc]
            print(f"{kind:<10}" + "".join(f"{c:>12.1f}" for c in cells))


if __name__ == "__main__":
    main()
