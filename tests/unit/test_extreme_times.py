"""The working calendar and the rules take any aware datetime, years 1 to 9999.

The connectors refuse times no real dossier has (BAD_TIME), but the domain must not depend on it:
every calendar operation either gives the rules' answer or raises `CalendarRangeError` (a
dead-letter error, BAD_TIME) when the answer is not a representable date, and costs at most in
proportion to the years it spans, never to its days: a pause from 1990 used to make every later
event of its dossier fail, and counting working days up to year 9999 took 13 s and 400 MB.
Work is measured in executed lines of hub/ code (a `sys.settrace` counter that gives up past a
budget), never in time.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.codec import encode_event
from hub.domain.calendar import TZ, CalendarRangeError, WorkingCalendar, load_overrides
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import DossierEvent, EventKind, Source
from hub.domain.stats import summarize
from hub.errors import DeadLetterError
from hub.protocol import KIND_EVENT
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge

OVERRIDES = DATA_DIR / "calendar-overrides.csv"
CAL = WorkingCalendar.from_file(OVERRIDES)
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = "000.00.12.H49-261103-0001"
HUB = str(Path(__file__).resolve().parents[2] / "hub")
T = TypeVar("T")


class TooMuchWork(Exception):
    pass


def bounded(work: Callable[[], T], budget: int) -> T:
    """`work()`, stopped with TooMuchWork once it has run `budget` lines of hub/ code."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                raise TooMuchWork(f"more than {budget} lines")
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(HUB) else None

    sys.settrace(calls)
    try:
        return work()
    finally:
        sys.settrace(None)


# -- the rules' calendar, day by day (rules.md §1), as a reference --------------------------------
_FORCED = {o.day: o.working for o in load_overrides(OVERRIDES)}
_VN = holidays.country_holidays("VN")


def ref_working(d: date) -> bool:
    forced = _FORCED.get(d)
    return forced if forced is not None else d.weekday() < 5 and d not in _VN


def ref_add(t: datetime, n: int, step: int = 1) -> datetime:
    local = t.astimezone(TZ)
    d = local.date()
    while n:
        d += timedelta(days=step)
        n -= ref_working(d)
    return datetime.combine(d, local.timetz())


def ref_between(a: datetime, b: datetime) -> int:
    if b <= a:
        return 0
    da, db = a.astimezone(TZ).date(), b.astimezone(TZ).date()
    return sum(ref_working(da + timedelta(days=i)) for i in range(1, (db - da).days + 1))


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


# -- the calendar ---------------------------------------------------------------------------------
def test_a_pause_from_1990_moves_a_due_date_exactly() -> None:
    start, end = local(1990, 1, 2), local(2026, 11, 3)
    n = bounded(lambda: CAL.working_days_between(start, end), 2_000)
    assert n == ref_between(start, end)
    due = local(1990, 3, 1, 17)
    assert bounded(lambda: CAL.add_working_days(due, n), 2_000) == ref_add(due, n)
    assert bounded(lambda: CAL.sub_working_days(end, n), 2_000) == ref_add(end, n, -1)


def weekdays_between(da: date, db: date) -> int:
    """Mondays to Fridays d with da < d <= db, by whole weeks."""
    weeks, rest = divmod((db - da).days, 7)
    return 5 * weeks + sum((da + timedelta(days=i)).weekday() < 5 for i in range(1, rest + 1))


def test_working_days_up_to_year_9999_are_counted_without_walking() -> None:
    due, last = local(2026, 11, 17, 17), datetime(9999, 12, 31, 16, 0, tzinfo=TZ)
    n = bounded(lambda: CAL.working_days_between(due, last), 2_000)
    # split where the holidays package's Vietnamese calendar ends: day by day up to 2100, then
    # weekdays less the package's weekday holidays (none in holidays 0.109) and no overrides
    split = local(2100, 12, 31)
    later = holidays.country_holidays("VN", years=range(2101, 10000))
    off = sum(1 for d in later if d.weekday() < 5)
    assert n == ref_between(due, split) + weekdays_between(split.date(), last.date()) - off
    assert bounded(lambda: CAL.add_working_days(due, n), 2_000).date() == date(9999, 12, 31)


def test_years_1_and_9999_are_working_days_like_any_other() -> None:
    assert CAL.is_working_day(date(1, 1, 1)) is True  # a Monday
    assert CAL.is_working_day(date(9999, 12, 31)) is True  # a Friday
    assert CAL.add_working_days(local(1, 1, 1), 1) == local(1, 1, 2)
    assert CAL.sub_working_days(local(9999, 12, 31), 1) == local(9999, 12, 30)
    assert CAL.working_days_between(local(1, 1, 1), local(9999, 12, 31)) > 2_600_000


@pytest.mark.parametrize(
    "walk",
    [
        lambda: CAL.add_working_days(local(9999, 12, 31), 1),
        lambda: CAL.add_working_days(local(9999, 12, 1), 40),
        lambda: CAL.sub_working_days(local(1, 1, 1), 1),
        lambda: CAL.next_working_day(date(9999, 12, 31)),
        lambda: CAL.add_working_days(datetime(9999, 12, 31, 22, tzinfo=UTC), 1),
        lambda: CAL.working_days_between(local(2026, 1, 1), datetime(9999, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_past_the_last_representable_day_is_a_clear_domain_error(
    walk: Callable[[], object],
) -> None:
    with pytest.raises(CalendarRangeError) as refused:
        bounded(walk, 2_000)
    assert isinstance(refused.value, DeadLetterError) and refused.value.reason == "BAD_TIME"


ANY_TIME = st.builds(
    lambda dt, minutes: dt.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    st.integers(min_value=-23 * 60, max_value=23 * 60),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TIME, ANY_TIME, st.integers(min_value=1, max_value=3_000_000))
def test_any_aware_datetime_gives_an_answer_or_a_domain_error(
    a: datetime, b: datetime, n: int
) -> None:
    with contextlib.suppress(CalendarRangeError):
        between = bounded(lambda: CAL.working_days_between(a, b), 2_000)
        assert between >= 0 and (between == 0 or b > a)
    for walk in (CAL.add_working_days, CAL.sub_working_days):
        try:
            moved = bounded(lambda walk=walk: walk(a, n), 2_000)  # type: ignore[misc]
        except CalendarRangeError:
            continue
        assert CAL.is_working_day(moved.date())
        assert moved.timetz() == a.astimezone(TZ).timetz()
        if walk == CAL.add_working_days:
            assert CAL.working_days_between(a, moved) == n


DAYS_2024_2031 = st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    DAYS_2024_2031,
    DAYS_2024_2031,
    st.integers(min_value=1, max_value=60),
    st.times(),
)
def test_the_calendar_is_the_rules_day_by_day_walk(da: date, db: date, n: int, clock: time) -> None:
    a, b = datetime.combine(da, clock, TZ), datetime.combine(db, clock, TZ)
    assert CAL.is_working_day(da) == ref_working(da)
    assert CAL.working_days_between(a, b) == ref_between(a, b)
    assert CAL.add_working_days(a, n) == ref_add(a, n)
    assert CAL.sub_working_days(a, n) == ref_add(a, n, -1)


def test_overrides_count_in_long_spans(tmp_path: Path) -> None:
    f = tmp_path / "cal.csv"
    f.write_text(
        "date,kind,note\n1995-05-06,working_day,Saturday\n1995-05-08,day_off,Monday\n"
        "9999-12-25,working_day,Saturday\n"
    )
    cal = WorkingCalendar.from_file(f)
    plain = WorkingCalendar()
    a, b = local(1990, 1, 1), local(9999, 12, 31)
    assert cal.working_days_between(a, b) == plain.working_days_between(a, b) + 1
    assert cal.is_working_day(date(9999, 12, 25)) and not plain.is_working_day(date(9999, 12, 25))


# -- the rules ------------------------------------------------------------------------------------
def _dossier(*more: DossierEvent) -> list[DossierEvent]:
    received = local(1989, 12, 1, 8, 30)
    snapshot = DossierEvent(
        event_id="snapshot",
        source=Source.ONESTOP,
        kind=EventKind.SNAPSHOT,
        dossier_code=CODE,
        event_time=received,
        status=2,
        first_sync=True,
        received_at=received,
        appointment_at=local(1990, 3, 1, 17),
        procedure_code="1.013831",
    )
    return [snapshot, *more]


def _land(kind: EventKind, at: datetime, i: int) -> DossierEvent:
    return DossierEvent(
        event_id=f"land-{i}",
        source=Source.LAND,
        kind=kind,
        dossier_code=CODE,
        event_time=at,
        pause=True,
    )


def test_a_land_pause_from_1990_is_judged() -> None:
    events = _dossier(
        _land(EventKind.LAND_SUPPLEMENT_REQUESTED, local(1990, 1, 2), 1),
        _land(EventKind.LAND_SUPPLEMENT_RECEIVED, local(2026, 11, 3), 2),
    )
    now = local(2026, 12, 1)
    result = bounded(lambda: ENGINE.evaluate(CODE, events, {}, now, now), 200_000)
    assert result.facts is not None
    paused = CAL.working_days_between(local(1990, 1, 2), local(2026, 11, 3))
    assert paused > 9000
    assert result.facts.due_at(now, CAL) == ref_add(local(1990, 3, 1, 17), paused)
    summarize(result.facts, CAL, 1)


def test_the_judge_keeps_judging_a_dossier_with_a_pause_from_1990() -> None:
    judge = Judge(Settings(clock=ClockMode.WALL), ENGINE, lambda: local(2026, 12, 1), {})
    key = CODE.encode()
    events = _dossier(
        _land(EventKind.LAND_SUPPLEMENT_REQUESTED, local(1990, 1, 2), 1),
        _land(EventKind.LAND_SUPPLEMENT_RECEIVED, local(2026, 11, 3), 2),
        _land(EventKind.LAND_HANDOVER, local(2026, 11, 4), 3),
    )
    for ev in events:
        judge.handle(KIND_EVENT, 0, key, encode_event(ev))
    state = judge.cache.get(key)
    assert state is not None and len(state.events) == 4


KINDS = [
    EventKind.STEP,
    EventKind.LAND_HANDOVER,
    EventKind.LAND_SUPPLEMENT_REQUESTED,
    EventKind.LAND_SUPPLEMENT_RECEIVED,
    EventKind.LAND_CLOSED,
    EventKind.APOLOGY,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(KINDS), ANY_TIME, st.one_of(st.none(), ANY_TIME)),
        min_size=1,
        max_size=6,
    ),
    ANY_TIME,
)
def test_any_event_times_are_judged_or_refused_as_bad_time(
    items: list[tuple[EventKind, datetime, datetime | None]], now: datetime
) -> None:
    events = []
    for i, (kind, at, other) in enumerate(items):
        source = Source.ONESTOP if kind in (EventKind.STEP, EventKind.APOLOGY) else Source.LAND
        events.append(
            DossierEvent(
                event_id=f"e{i}",
                source=source,
                kind=kind,
                dossier_code=CODE,
                event_time=at,
                status=5 if i % 2 else 4,
                pause=True,
                step_deadline=other,
                apology_at=at if kind is EventKind.APOLOGY else None,
                with_result=bool(i % 2),
            )
        )
    snapshot = _dossier()[0].model_copy(update={"appointment_at": now, "received_at": items[0][1]})

    def judge() -> None:
        result = ENGINE.evaluate(CODE, [snapshot, *events], {}, now, now)
        assert result.facts is not None
        summarize(result.facts, CAL, 1)

    with contextlib.suppress(CalendarRangeError):
        bounded(judge, 500_000)
