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
from datetime import datetime, timedelta

from hub.codec import encode_event
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source
from hub.domain.stats import summarize
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.state import DossierState

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = "000.00.12.H49-261103-0001"
T0 = datetime(2026, 11, 3, 8, 30, tzinfo=TZ)
NOW = T0 + timedelta(days=20 * 366)  # past every event of the largest dossier
GAP = timedelta(hours=7)  # between events
PAIRED = ("pause", "land-pause", "tax")  # kinds whose events go in pairs: a pause and its end


def _snapshot() -> DossierEvent:
    return DossierEvent(
        event_id="snapshot",
        source=Source.ONESTOP,
        kind=EventKind.SNAPSHOT,
        dossier_code=CODE,
        event_time=T0,
        status=2,
        first_sync=True,
        received_at=T0,
        appointment_at=T0 + timedelta(days=14),
        procedure_code="1.013831",
        unit_name="Chi nhánh VPĐKĐĐ Thăng Bình",
    )


def _item(kind: str, i: int) -> DossierEvent:
    at = T0 + GAP * (i + 1)
    if kind in PAIRED:  # a pause each night, 16:00 to 08:00: each moves the due date a day
        at = T0.replace(hour=16, minute=0) + timedelta(days=i // 2 + 1, hours=16 * (i % 2))
    base = {"event_id": f"{kind}-{i}", "dossier_code": CODE, "event_time": at}
    holder = {"holder_unit": f"Phòng {i % 7}", "holder_officer": f"cb.{i % 5}"}
    deadline = at + timedelta(hours=(i % 3) * 20 + 1)  # some steps overdue, some not
    if kind == "apology":
        return DossierEvent(source=Source.ONESTOP, kind=EventKind.APOLOGY, apology_at=at, **base)
    if kind == "step":
        return DossierEvent(
            source=Source.ONESTOP,
            kind=EventKind.STEP,
            status=4,
            step_deadline=deadline,
            **holder,
            **base,
        )
    if kind == "land":
        return DossierEvent(
            source=Source.LAND,
            kind=EventKind.LAND_HANDOVER,
            step_deadline=deadline,
            **holder,
            **base,
        )
    if kind == "pause":  # a supplement request, then the step that ends it, and again
        status = 5 if i % 2 == 0 else 4
        return DossierEvent(
            source=Source.ONESTOP, kind=EventKind.STEP, status=status, **holder, **base
        )
    if kind == "land-pause":
        land_kind = (
            EventKind.LAND_SUPPLEMENT_REQUESTED
            if i % 2 == 0
            else EventKind.LAND_SUPPLEMENT_RECEIVED
        )
        return DossierEvent(source=Source.LAND, kind=land_kind, pause=True, **base)
    if kind == "tax":  # a notice issued, then paid: a financial pause each time
        tax_kind = EventKind.TAX_NOTICE_ISSUED if i % 2 == 0 else EventKind.TAX_PAID
        return DossierEvent(source=Source.TAX, kind=tax_kind, notice_no=f"TB-{i // 2}", **base)
    if kind == "closings":  # civil closings without result: one UNREPORTED_COMPLETION each
        return DossierEvent(
            source=Source.CIVIL,
            kind=EventKind.CIVIL,
            civil_status=CivilStatus.TU_CHOI,
            **holder,
            **base,
        )
    if kind == "mixed":  # all of them but the closings, so that the dossier stays open
        return _item(KINDS[i % 6], i)
    raise ValueError(kind)


KINDS = ("apology", "step", "land", "pause", "land-pause", "tax", "closings", "mixed")


def dossier(kind: str, n: int) -> list[tuple[DossierEvent, bytes]]:
    """A snapshot and n - 1 events of `kind`, each with the Avro bytes it travels in."""
    events = [_snapshot(), *(_item(kind, i) for i in range(n - 1))]
    return [(ev, encode_event(ev)) for ev in events]


def add_and_evaluate(events: list[tuple[DossierEvent, bytes]]) -> None:
    state = DossierState(0)
    for ev, blob in events:
        if not state.has(ev):
            state.add(ev, blob)
    result = ENGINE.evaluate(CODE, state.events, state.emitted, NOW, NOW)
    assert result.facts is not None
    summarize(result.facts, CAL, 1)


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
