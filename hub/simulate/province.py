"""A seeded model of one province and the lifecycles of its dossiers (pure: no wall clock, no I/O).

`Simulation(config, catalogue, calendar).messages()` yields every message the four agency systems
send, in send-time order, each with its explicit event time and send time; `formats.render` turns
one into the exact bytes of its source format.

Generation is lazy: dossiers are made one at a time in order of their receipt (anchor) time and
their messages merged through a heap; a message of a dossier is never sent more than `LOOKBACK`
before its anchor, so a message can be released once every dossier anchored up to its send time +
`LOOKBACK` has been made. Memory is proportional to the dossiers open at one time, not to the run.

The parts, one idea each: `config` (what a run is asked for), `systems` (the four sources),
`catalogue` (procedures), `units` and `people` (who works where), `workclock` (office time),
`numbering` (the systems' ids), `records` (dossier, event, message), `life` and `lifecycles`
(what happens to a dossier), `deadlines` (apologies, step deadlines), `delivery` (events sent as
messages, with noise). The names other code imports from here are re-exported below.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta

from hub.domain.calendar import WorkingCalendar
from hub.simulate.catalogue import CIVIL_KIND, PROCEDURE_WEIGHTS, Procedure, load_catalogue
from hub.simulate.config import SimConfig
from hub.simulate.delivery import deliver
from hub.simulate.life import Life
from hub.simulate.lifecycles import live
from hub.simulate.numbering import Serials
from hub.simulate.people import person
from hub.simulate.records import Dossier, Ev, Msg
from hub.simulate.systems import (
    CIVIL,
    LAND,
    LAND_CAMEL,
    LAND_CANON,
    LAND_ROUTE,
    MALFORMED_REASONS,
    ONESTOP,
    SOURCES,
    TAX,
    VENDORS,
)
from hub.simulate.units import Province, Unit
from hub.simulate.workclock import CLOSE_MIN, OPEN_MIN, WorkClock, on_day

__all__ = [
    "CIVIL",
    "LAND",
    "MALFORMED_REASONS",
    "ONESTOP",
    "SOURCES",
    "TAX",
    "VENDORS",
    "Dossier",
    "Ev",
    "Msg",
    "Procedure",
    "Province",
    "SimConfig",
    "Simulation",
    "WorkClock",
    "load_catalogue",
]

LOOKBACK = timedelta(days=4)  # the earliest a dossier's message is sent before its anchor


class Simulation:
    def __init__(
        self,
        config: SimConfig,
        catalogue: Sequence[Procedure],
        calendar: WorkingCalendar,
        province: Province | None = None,
    ) -> None:
        if not catalogue:
            raise ValueError("the procedure catalogue is empty")
        self.cfg = config
        self.clock = WorkClock(calendar)
        self.province = province or Province(config.seed)
        self.procedures = list(catalogue)
        self.proc_cum = list(
            itertools.accumulate(PROCEDURE_WEIGHTS.get(p.code, 1.0) for p in self.procedures)
        )
        self.on_dossier: Callable[[Dossier], None] | None = None
        self.serials = Serials()

    def _anchors(self, rng: random.Random) -> Iterator[datetime]:
        """Receipt times of all dossiers, in order: spread over the span's working days."""
        cfg = self.cfg
        days = [cfg.start + timedelta(days=i) for i in range(cfg.days)]
        working = [d for d in days if self.clock.working(d)] or days
        base, extra = divmod(cfg.dossiers, len(working))
        bonus = set(rng.sample(range(len(working)), extra))
        for i, d in enumerate(working):
            n = base + (1 if i in bonus else 0)
            minutes = sorted(rng.randint(OPEN_MIN - 20, CLOSE_MIN + 5) for _ in range(n))
            for m in minutes:
                yield on_day(d, m)

    def messages(self) -> Iterator[Msg]:
        """The whole feed, in send-time order (`on_dossier`, if set, sees each dossier as made)."""
        cfg = self.cfg
        horizon = cfg.horizon
        rng = random.Random(f"anchors/{cfg.seed}")
        heap: list[tuple[datetime, int, Msg]] = []
        order = itertools.count()
        for seq, anchor in enumerate(self._anchors(rng)):
            bound = anchor - LOOKBACK
            while heap and heap[0][0] < bound:
                yield heapq.heappop(heap)[2]
            dossier, msgs = self.dossier(seq, anchor)
            if self.on_dossier is not None:
                self.on_dossier(dossier)
            for m in msgs:
                if m.sent_at < horizon:
                    heapq.heappush(heap, (m.sent_at, next(order), m))
        while heap:
            yield heapq.heappop(heap)[2]

    def _pick_procedure(self, rng: random.Random) -> Procedure:
        x = rng.random() * self.proc_cum[-1]
        for proc, c in zip(self.procedures, self.proc_cum, strict=True):
            if x < c:
                return proc
        return self.procedures[-1]

    def dossier(self, seq: int, anchor: datetime) -> tuple[Dossier, list[Msg]]:
        """The `seq`-th dossier, received at `anchor`, and every message about it."""
        cfg = self.cfg
        rng = random.Random(f"dossier/{cfg.seed}/{seq}")
        proc = self._pick_procedure(rng)
        sector = proc.sector if proc.sector in ("land", "civil") else "civil"
        unit: Unit = self.province.pick_unit(rng, sector == "land")
        bypass = rng.random() < cfg.bypass_share
        code = None if bypass else self.serials.receipt_code(unit.code, anchor)
        land_id = civil_id = None
        if sector == "land":
            land_id = self.serials.land_id(anchor)
        else:
            civil_id = self.serials.civil_id(anchor)
        key = code or (f"land:{land_id}" if land_id else f"civil:{civil_id}")
        d = Dossier(
            seq=seq,
            key=key,
            code=code,
            unit=unit,
            procedure=proc,
            sector=sector,
            anchor=anchor,
            applicant=person(rng),
            id_number=f"049{rng.randint(0, 999_999_999):09d}",
            channel=rng.choices(("1", "2", "3"), (55, 42, 3))[0],
            vendor=unit.vendor,
            land_style=rng.choice((LAND_CANON, LAND_CANON, LAND_ROUTE, LAND_CAMEL)),
            land_id=land_id,
            civil_id=civil_id,
            civil_kind=CIVIL_KIND.get(proc.code, "KHAI_SINH") if sector == "civil" else None,
            land_id_on_events=bypass or rng.random() < 0.85,
            bypass=bypass,
        )
        evs = live(Life(d, rng, self.clock, self.serials), cfg, self.province.tax_officers)
        return d, deliver(d, evs, rng, cfg)
