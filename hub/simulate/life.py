"""The mechanics of one dossier's life: recording what each system sees, and running a script.

A script is a list of (gap, action) pairs: the gap says how much office time passes before the
action (see `Life.run`), the action records events at that time. The sector scripts are in
`lifecycles`; the pieces every script shares (receipt, refusal, supplements, closing) are here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hub.simulate.numbering import Serials
from hub.simulate.people import Officer
from hub.simulate.records import Dossier, Ev
from hub.simulate.systems import CIVIL, LAND, ONESTOP, SESSION
from hub.simulate.workclock import DAY_MIN, WorkClock

Action = Callable[[datetime], object]

SUPPLEMENT_REASONS = (
    "Bổ sung hợp đồng công chứng",
    "Bổ sung sơ đồ thửa đất",
    "Bổ sung bản chính giấy chứng sinh",
    "Bổ sung giấy tờ tùy thân của người yêu cầu",
    "Bổ sung văn bản thỏa thuận phân chia di sản",
)


class Life:
    """One dossier's events as they are made: the systems' records of each act, and the clock
    that runs a script of (gap, action) pairs."""

    def __init__(self, d: Dossier, rng: random.Random, clock: WorkClock, serials: Serials) -> None:
        self.d = d
        self.rng = rng
        self.clock = clock
        self.serials = serials
        self.evs: list[Ev] = []
        self.received: datetime | None = None
        self.finished: datetime | None = None
        self.returned: datetime | None = None
        self.refused: datetime | None = None
        self.pause_from: datetime | None = None
        self.handovers: list[Ev] = []  # steps that may carry a step deadline

    # -- low-level ---------------------------------------------------------------------------------

    def add(self, at: datetime, source: str, kind: str, follower: bool = False, **a: Any) -> Ev:
        ev = Ev(at, source, kind, a, follower)
        self.evs.append(ev)
        return ev

    def step(
        self, t: datetime, status: int, officer: Officer, content: str, handover: bool = False
    ) -> None:
        if self.d.code is None:
            return
        ev = self.add(
            t, ONESTOP, "step", True, status=status, officer=officer, content=content,
            deadline=None,
        )  # fmt: skip
        if handover:
            self.handovers.append(ev)

    def snapshot(self, t: datetime, status: int, first: bool = False) -> None:
        if self.d.code is None:
            return
        rng = self.rng
        omit = False
        if status in (3, 10) and (self.d.vendor == SESSION or rng.random() < 0.1):
            omit = True  # products that omit NgayTuChoi / NgayTra
        self.add(
            t + timedelta(seconds=rng.randint(5, 150)),
            ONESTOP,
            "snapshot",
            status=status,
            first=first,
            received=self.received,
            due=self.d.due if (self.received is not None and rng.random() < 0.95) else None,
            finished=self.finished,
            returned=None if omit else self.returned,
            refused=None if omit else self.refused,
        )

    def land(self, t: datetime, kind: str, follower: bool = False, **a: Any) -> Ev:
        return self.add(t, LAND, kind, follower, **a)

    def civil(self, t: datetime, status: str, officer: Officer) -> None:
        follower = status in ("DA_CO_KET_QUA", "TU_CHOI")
        self.add(
            t, CIVIL, "civil", follower, status=status, officer=officer,
            event_id=self.serials.civil_event_id(t),
        )  # fmt: skip

    def pause_start(self, t: datetime) -> None:
        self.pause_from = t

    def pause_end(self, t: datetime) -> None:
        d = self.d
        if self.pause_from is not None and d.due_current is not None:
            d.due_current = self.clock.move_due(d.due_current, self.pause_from, t)
        self.pause_from = None

    # -- timing ------------------------------------------------------------------------------------

    def run(self, start: datetime, script: list[tuple[str, Action]]) -> datetime:
        """Run `script` from `start`; returns the time of its last event.

        Gaps: `0` none, `q` minutes, `a` the applicant's time, `r`/`p` after the finish, `w` a
        working wait, `W`/`O` the wait before the finish (`O`: past the due date). Waits up to the
        finish share the office time left before the due date, so an on-time dossier is on time.
        """
        rng, clock, d = self.rng, self.clock, self.d
        finish_index = max((i for i, (g, _) in enumerate(script) if g in ("W", "O")), default=-1)
        t = start
        for i, (gap, act) in enumerate(script):
            if gap == "0":
                pass
            elif gap == "q":
                t = clock.advance(t, rng.randint(1, 12))
            elif gap == "a":  # the applicant's time: half a day to a week
                t = clock.advance(t, rng.randint(240, 5 * DAY_MIN))
            elif gap == "r":  # the one-stop system records the closing within the grace
                t = clock.advance(t, rng.randint(1, 360))
            elif gap == "p":  # after the finish: result handed over later
                t = clock.advance(t, rng.randint(5, 2 * DAY_MIN))
            elif gap == "O" and d.due_current is not None:  # the late finish
                base = max(t, d.due_current)
                t = clock.advance(base + timedelta(minutes=1), rng.randint(20, 4 * DAY_MIN))
            elif gap in ("w", "W", "O"):
                if d.due_current is None or i > finish_index:
                    t = clock.advance(t, rng.randint(15, DAY_MIN))
                else:
                    left_w = sum(1 for g, _ in script[i : finish_index + 1] if g in "wWO")
                    left_q = sum(1 for g, _ in script[i : finish_index + 1] if g == "q")
                    room = clock.minutes_between(t, d.due_current) - 12 * left_q - 1
                    share = rng.uniform(0.15, 0.9) / max(1, left_w)
                    t = clock.advance(t, max(1, int(room * share)))
            before = len(self.evs)
            act(t)
            t = max([t, *(e.at for e in self.evs[before:])])
        return t

    # -- pieces of every script ----------------------------------------------------------------

    def snapshot_at_submission(self, t: datetime) -> None:
        self.add(t, ONESTOP, "snapshot", status=1, first=True, received=None, due=None,
                 finished=None, returned=None, refused=None)  # fmt: skip

    def receipt(self, desk: Officer) -> Action:
        def act(t: datetime) -> None:
            self.received = t
            self.step(t, 2, desk, "Tiếp nhận hồ sơ")
            self.snapshot(t, 2, first=self.d.submitted_at is None)

        return act

    def closing_steps(self, desk: Officer, script: list[tuple[str, Action]]) -> None:
        d = self.d
        if d.code is None or d.unreported:
            return
        if d.outcome == "result":

            def done(t: datetime) -> None:
                self.finished = t
                self.step(t, 9, desk, "Đã xử lý xong, chuyển kết quả về Bộ phận Một cửa")
                if self.rng.random() < 0.85:
                    self.snapshot(t, 9)

            def returned(t: datetime) -> None:
                self.returned = t
                self.step(t, 10, desk, "Trả kết quả cho công dân")
                self.snapshot(t, 10)

            script += [("r", done), ("p", returned)]
        else:
            status = 7 if d.outcome == "withdrawn" else 8
            text = "Công dân yêu cầu rút hồ sơ" if status == 7 else "Dừng xử lý hồ sơ"

            def stop(t: datetime) -> None:
                self.step(t, status, desk, text)
                self.snapshot(t, status)

            script.append(("r", stop))

    def refusal(self, desk: Officer) -> Action:
        def act(t: datetime) -> None:
            self.refused = t
            self.d.closed_at = t
            self.step(t, 3, desk, "Từ chối tiếp nhận: hồ sơ không đủ điều kiện")
            self.snapshot(t, 3)

        return act

    def supplement_request(self, desk: Officer, land: bool) -> Action:
        reason = self.rng.choice(SUPPLEMENT_REASONS)

        def act(t: datetime) -> None:
            self.pause_start(t)
            if land:
                self.land(t, "supp_req", True, pausing=True, note=reason)
                self.step(self.clock.advance(t, self.rng.randint(1, 10)), 5, desk,
                          f"Yêu cầu bổ sung: {reason}")  # fmt: skip
            else:
                self.step(t, 5, desk, f"Yêu cầu bổ sung: {reason}")
            self.snapshot(t, 5)

        return act

    def supplement_received(self, officer: Officer, land: bool) -> Action:
        def act(t: datetime) -> None:
            end = t
            if land:
                new_due = self.d.due_current
                self.land(t, "supp_recv", new_due=new_due)
                if self.d.code is not None:
                    end = self.clock.advance(t, self.rng.randint(1, 10))
            if self.d.code is not None:
                self.step(end, 4, officer, "Tiếp nhận hồ sơ bổ sung, tiếp tục xử lý", True)
            self.pause_end(end)

        return act

    def finish_event(self, act: Action) -> Action:
        def wrapped(t: datetime) -> None:
            act(t)
            if self.d.outcome == "result":
                self.d.finished_at = t
            self.d.closed_at = t
            if self.d.due_current is not None and self.d.outcome == "result":
                self.d.late = t > self.d.due_current

        return wrapped
