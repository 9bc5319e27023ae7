"""hub/domain/weekly.py `weeks` reads its summaries once and keeps none of them, with the very
output of the implementation that listed them first (copied below as the reference), in any
order of the summaries."""

from __future__ import annotations

import random
import weakref
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.domain.calendar import TZ
from hub.domain.stats import Summary, at, contribution, ms
from hub.domain.weekly import FIGURES, monday, weeks
from tests.unit.test_weekly import NOW, W48, W49, W50, province, summary, t

Period = tuple[datetime | None, datetime | None, datetime]  # start, end, now


# -- the reference: weeks() as it was before it read its summaries in one pass ----------------
def _start_ms_before_streaming(d: date) -> int:
    return ms(datetime(d.year, d.month, d.day, tzinfo=TZ))


def _late_intervals_before_streaming(s: Summary) -> tuple[int, int | None] | None:
    if s.received is None:
        return None
    raised = [r for kind, r, _ in s.alerts if kind == "PROCESSING_LATE"]
    if not raised:
        return None
    begin = max(s.received, min(raised))
    until = s.closed[0] if s.closed is not None else None
    if until is not None and until <= begin:
        return None
    return begin, until


def weeks_before_streaming(
    summaries: Iterable[Summary],
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    items = list(summaries)
    t_now = ms(now)
    lo = ms(start) if start is not None else None
    hi = min(ms(end), t_now + 1) if end is not None else t_now + 1  # exclusive
    if lo is None:
        first = min((s.received for s in items if s.received is not None), default=None)
        if first is None or first >= hi:
            return []
        lo = first
    if lo >= hi:
        return []
    first_monday = monday(at(lo))
    last_monday = monday(at(hi - 1))
    mondays = []
    d = first_monday
    while d <= last_monday:
        mondays.append(d)
        d += timedelta(days=7)
    bounds = [_start_ms_before_streaming(m) for m in mondays]

    def index(t: int) -> int | None:
        if t < lo or t >= hi:
            return None
        return bisect_right(bounds, t) - 1

    rows = [dict.fromkeys(FIGURES, 0) for _ in mondays]
    late_spans = []
    for s in items:
        if s.received is not None and (i := index(s.received)) is not None:
            rows[i]["received"] += 1
        if s.closed is not None and s.closed[1] and (i := index(s.closed[0])) is not None:
            got = contribution(s, s.closed[0])
            if got is not None:
                key = "finished_on_time" if got.counts["finished_on_time"] else "finished_late"
                rows[i][key] += 1
        span = _late_intervals_before_streaming(s)
        if span is not None:
            late_spans.append(span)
    begins = sorted(b for b, _ in late_spans)
    ends = sorted(u for _, u in late_spans if u is not None)
    for i, week_start in enumerate(bounds):
        week_end = week_start + 7 * 86_400_000
        sample = min(week_end, hi) - 1
        rows[i]["late"] = bisect_right(begins, sample) - bisect_right(ends, sample)
    out = []
    for m, figures in zip(mondays, rows, strict=True):
        year, number, _ = m.isocalendar()
        out.append(
            {
                "week": f"{year}-W{number:02d}",
                "start": m.isoformat(),
                "end": (m + timedelta(days=6)).isoformat(),
                **figures,
            }
        )
    return out


# -- the cases --------------------------------------------------------------------------------
def local(day: tuple[int, int, int], plus_days: int = 0, hour: int = 0) -> datetime:
    return datetime(*day, hour, tzinfo=TZ) + timedelta(days=plus_days)


def instant(ms_: int) -> datetime:
    return datetime.fromtimestamp(ms_ / 1000, tz=UTC)


def same_in_any_order(
    summaries: list[Summary], start: datetime | None, end: datetime | None, now: datetime
) -> list[dict[str, Any]]:
    """The reference's rows, checked equal to `weeks` over `summaries` in several orders."""
    want = weeks_before_streaming(summaries, start, end, now)
    orders = [list(summaries), list(reversed(summaries))]
    for seed in range(4):
        shuffled = list(summaries)
        random.Random(seed).shuffle(shuffled)
        orders.append(shuffled)
    for order in orders:
        assert weeks(order, start, end, now) == want, [s.code for s in order]
    return want


SAMPLE_PERIODS: list[Period] = [
    (None, None, NOW),
    (None, None, instant(t(W50, 1, 8))),
    (None, None, instant(t(W49, 3, 8))),
    (None, None, local((2026, 12, 28), hour=12)),  # empty weeks up to now
    (local((2026, 11, 24)), local((2026, 12, 1)), NOW),
    (local((2026, 11, 24)), local((2026, 12, 2)), NOW),
    (local((2027, 1, 1)), None, NOW),  # a period after now
    (None, local((2026, 12, 2)), NOW),  # no start, ending mid-week
    (local((2026, 11, 1)), local((2026, 12, 31)), NOW),  # now inside the period
    (local(W49), local(W50), NOW),  # whole weeks, from Monday to Monday
]


@pytest.mark.parametrize(("start", "end", "now"), SAMPLE_PERIODS)
def test_the_sample_summaries_as_before(
    start: datetime | None, end: datetime | None, now: datetime
) -> None:
    same_in_any_order(province(), start, end, now)


def test_without_a_start_the_first_receipt_opens_the_period() -> None:
    wed = t(W49, 2, 12)
    summaries = [
        summary("first", wed, due=[(wed, t(W49, 3))]),
        # closed with a result before the first receipt, received after it: not finished
        summary("early", t(W49, 4), due=[(t(W49, 4), t(W50, 1))], closed=(t(W49, 1), True)),
        # closed with a result, never received: not finished either
        summary("never", None, closed=(t(W48, 3), True)),
        # late before the first receipt, received after it: late from its receipt only
        summary(
            "late",
            t(W49, 5),
            due=[(t(W49, 5), t(W49, 6))],
            alerts=[("PROCESSING_LATE", t(W48, 2), None)],
        ),
        # closed a millisecond before the first receipt, in its week: not counted
        summary("just", t(W49, 3), due=[(t(W49, 3), t(W50, 1))], closed=(wed - 1, True)),
    ]
    rows = same_in_any_order(summaries, None, None, NOW)
    assert [r["week"] for r in rows] == ["2026-W49", "2026-W50"]
    assert [tuple(r[key] for key in FIGURES) for r in rows] == [(4, 0, 0, 1), (0, 0, 0, 1)]


def test_a_period_ending_mid_week_and_now_inside_the_period() -> None:
    for end in (local(W49, 2), local(W49, 2, 13), local(W50, 3)):
        for now in (instant(t(W49, 1, 12)), instant(t(W49, 2, 12)), NOW):
            for start in (None, local(W48, 1), local(W49, 1)):
                same_in_any_order(province(), start, end, now)


def test_nothing_to_list() -> None:
    assert same_in_any_order([], None, None, NOW) == []
    assert same_in_any_order([], local(W48), local(W50), NOW) == [
        {"week": w, "start": s, "end": e, **dict.fromkeys(FIGURES, 0)}
        for w, s, e in (
            ("2026-W48", "2026-11-23", "2026-11-29"),
            ("2026-W49", "2026-11-30", "2026-12-06"),
        )
    ]
    # the first receipt at or after the period's end or now: no week
    assert same_in_any_order(province(), None, local(W48), NOW) == []
    assert same_in_any_order(province(), None, instant(t(W48)), NOW) == []
    assert same_in_any_order(province(), None, None, instant(t(W48) - 1)) == []
    assert same_in_any_order(province(), None, None, instant(t(W48))) != []  # `now` is in
    # a start at or after the end
    assert same_in_any_order(province(), local(W49), local(W49), NOW) == []
    assert same_in_any_order(province(), local(W50, 3), None, NOW) == []


# the weeks around the zone's past changes of offset (a week an hour longer or shorter than 7
# days), the present, and the start of the calendar
BASES = [
    (2026, 11, 23),
    (1945, 8, 27),  # +09:00 -> +07:00 at midnight, Sunday 2 September
    (1947, 3, 31),  # +07:00 -> +08:00 at midnight, Tuesday 1 April
    (1955, 6, 27),  # +08:00 -> +07:00 at 01:00, Friday 1 July
    (1959, 12, 28),  # +07:00 -> +08:00 at midnight, Friday 1 January
    (1975, 6, 9),  # +08:00 -> +07:00 at midnight, Friday 13 June
    (1911, 4, 24),  # local mean time -> +07:00 on Monday 1 May
    (1, 1, 22),  # the calendar's first weeks
]


def random_case(rng: random.Random, base: tuple[int, int, int]) -> tuple[list[Summary], Period]:
    origin = ms(local(base))
    mondays = [ms(local(base, 7 * k)) for k in range(-2, 4)]

    def when() -> int:
        if rng.random() < 0.3:  # at a week's edge
            return rng.choice(mondays) + rng.choice((-1, 0, 1))
        return origin + rng.randrange(-14 * 86_400_000, 21 * 86_400_000, 60_000)

    summaries = []
    for n in range(rng.randrange(0, 40)):
        received = None if rng.random() < 0.1 else when()
        anchor = received if received is not None else when()
        kw: dict[str, Any] = {"due": [(anchor, anchor + rng.randrange(1, 10) * 86_400_000)]}
        if rng.random() < 0.6:
            kw["closed"] = (when(), rng.random() < 0.8)
        kw["supplements"] = sorted(when() for _ in range(rng.choice((0, 0, 1, 2))))
        alerts = []
        if rng.random() < 0.5:
            alerts.append(("PROCESSING_LATE", when(), None))
        if rng.random() < 0.2:
            alerts.append(("PROCESSING_LATE", when(), None))
        if rng.random() < 0.2:
            alerts.append(("DUE_SOON", when(), None))
        kw["alerts"] = alerts
        summaries.append(summary(f"S{n}", received, **kw))

    def bound() -> datetime | None:
        return None if rng.random() < 0.4 else instant(when())

    start, end = bound(), bound()
    return summaries, (start, end, instant(when() + rng.randrange(0, 30) * 86_400_000))


@pytest.mark.parametrize("base", BASES)
def test_random_provinces_as_before(base: tuple[int, int, int]) -> None:
    rng = random.Random(f"{base}")
    listed = 0
    for _ in range(60):
        summaries, (start, end, now) = random_case(rng, base)
        listed += len(same_in_any_order(summaries, start, end, now)) > 0
    assert listed > 10  # the cases are not all empty


# -- one pass, nothing kept -------------------------------------------------------------------
def test_a_one_shot_generator_is_read_once() -> None:
    reads = 0

    def source() -> Iterator[Summary]:
        nonlocal reads
        reads += 1
        yield from province()

    for start, end, now in SAMPLE_PERIODS:
        reads = 0
        assert weeks(source(), start, end, now) == weeks_before_streaming(
            province(), start, end, now
        )
        assert reads <= 1


def test_no_summary_is_kept_while_reading() -> None:
    # each summary decoded on its own, as the map gives them: only the reading holds it
    blobs = [s.dumps() for s in province()] * 20
    alive: list[weakref.ref[Summary]] = []
    most = 0

    def source() -> Iterator[Summary]:
        nonlocal most
        for blob in blobs:
            s = Summary.loads(blob)
            alive.append(weakref.ref(s))
            most = max(most, sum(r() is not None for r in alive))
            yield s
            del s

    assert weeks(source(), None, None, NOW) == weeks_before_streaming(
        province() * 20, None, None, NOW
    )
    assert most <= 2  # the one being read, and at most the one before it
