"""Promises fitted to a dossier once its times are known: the apology letter of a late dossier,
and the step deadlines of hand-overs (rules.md §5 STEP_OVERDUE)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.simulate.life import Life
from hub.simulate.records import Ev
from hub.simulate.systems import LAND, ONESTOP
from hub.simulate.workclock import CLOSE_MIN, minute_of, on_day

APOLOGY_REASONS = (
    "Chờ kết quả xác minh nguồn gốc đất",
    "Hệ thống phần mềm chuyên ngành gặp sự cố",
    "Chờ cơ quan có liên quan phối hợp xác minh",
    "Số lượng hồ sơ tiếp nhận tăng đột biến",
)


def apologise(life: Life) -> None:
    """A letter of apology for a late dossier, with a new due date; most are sent in time."""
    d, rng, clock = life.d, life.rng, life.clock
    assert d.due_current is not None and life.received is not None
    due = d.due_current
    lo = max(life.received, clock.cal.sub_working_days(due, 1))
    span = clock.minutes_between(lo, due)
    if rng.random() < 0.2 and d.finished_at is not None and d.finished_at > due:
        # a late apology: after the due date, before the finish
        room = max(1, clock.minutes_between(due, d.finished_at) - 1)
        at = min(clock.advance(due, rng.randint(1, room)), d.finished_at - timedelta(minutes=1))
    else:
        at = clock.advance(lo, rng.randint(0, max(0, span - 1)))
        at = min(at, due)
    if at <= life.received:
        return
    new_due = on_day((d.finished_at or due).date(), CLOSE_MIN)
    if d.finished_at is not None and d.finished_at > new_due:
        new_due = on_day(clock.cal.next_working_day(d.finished_at.date()), CLOSE_MIN)
    signer = rng.choice(d.unit.leaders)
    life.add(at, ONESTOP, "apology", reason=rng.choice(APOLOGY_REASONS), new_due=new_due,
             signer=signer)  # fmt: skip
    d.apology = True
    d.apology_on_time = at <= due


def assign_deadlines(life: Life) -> None:
    """Step deadlines on some hand-overs; on the step-overdue one, a deadline that passes before
    anything follows it, on the others one that does not."""
    d, rng, clock, cal = life.d, life.rng, life.clock, life.clock.cal
    followers = sorted(e.at for e in life.evs if e.follower)

    def next_follower(t: datetime) -> datetime | None:
        for f in followers:
            if f > t:
                return f
        return None

    overdue: Ev | None = None
    if d.step_overdue:
        best = timedelta(minutes=2)
        for ev in life.handovers:
            f = next_follower(ev.at)
            if f is not None and f - ev.at >= best:
                best, overdue = f - ev.at, ev
        if overdue is None:
            d.step_overdue = False
    for ev in life.handovers:
        f = next_follower(ev.at)
        if ev is overdue:
            assert f is not None
            if f.date() > ev.at.date() and minute_of(ev.at) < CLOSE_MIN:
                deadline = on_day(ev.at.date(), CLOSE_MIN)
            else:
                deadline = ev.at + (f - ev.at) / 2
                deadline = deadline.replace(second=0, microsecond=0)
                if deadline <= ev.at:
                    deadline = ev.at + timedelta(minutes=1)
            ev.a["deadline"] = deadline
            ev.a["deadline_days"] = None
            if ev.source == LAND and rng.random() < 0.4:
                k = 1
                if cal.add_working_days(ev.at, k) < f:
                    ev.a["deadline"] = cal.add_working_days(ev.at, k)
                    ev.a["deadline_days"] = k
            continue
        if rng.random() >= (0.6 if ev.source == LAND else 0.5):
            continue
        target = f if f is not None else ev.at
        if ev.source == LAND and rng.random() < 0.4:
            k = 1
            while cal.add_working_days(ev.at, k) < target and k < 1000:
                k += 1
            k += rng.choice((0, 0, 1))
            ev.a["deadline"] = cal.add_working_days(ev.at, k)
            ev.a["deadline_days"] = k - 0.5 if rng.random() < 0.2 else k
        else:
            day = target.date()
            if minute_of(target) > CLOSE_MIN or not clock.working(day):
                day = cal.next_working_day(day)
            deadline = on_day(day, CLOSE_MIN)
            if rng.random() < 0.3:
                deadline = cal.add_working_days(deadline, rng.randint(1, 2))
            ev.a["deadline"] = deadline
            ev.a["deadline_days"] = None
