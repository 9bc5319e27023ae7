"""hub/domain/weekly.py: the weekly series over hand-built summaries (ISO weeks, local time)."""

from __future__ import annotations

from datetime import datetime

from hub.domain.calendar import TZ
from hub.domain.stats import Summary, ms
from hub.domain.weekly import monday, weeks

W48 = (2026, 11, 23)  # Monday of ISO week 48
W49 = (2026, 11, 30)
W50 = (2026, 12, 7)


def t(day: tuple[int, int, int], plus_days: int = 0, hour: int = 9, minute: int = 0) -> int:
    y, m, d = day
    base = datetime(y, m, d, hour, minute, tzinfo=TZ)
    return ms(base) + plus_days * 86_400_000


def summary(code: str, received: int | None, **kw: object) -> Summary:
    return Summary(code=code, unit="U1", received=received, **kw)  # type: ignore[arg-type]


def figures(rows: list[dict[str, object]]) -> dict[str, tuple[object, ...]]:
    return {
        str(r["week"]): (r["received"], r["finished_on_time"], r["finished_late"], r["late"])
        for r in rows
    }


def province() -> list[Summary]:
    return [
        # received Monday of W48, finished before its due date: on time in W48
        summary("A", t(W48), due=[(t(W48), t(W48, 4))], closed=(t(W48, 2), True)),
        # received Sunday 23:30 local (16:30 UTC, still W48), due Wednesday of W49, late from
        # Thursday of W49, finished in W50: late at the end of W49, finished late in W50
        summary(
            "B",
            t(W48, 6, 23, 30),
            due=[(t(W48, 6, 23, 30), t(W49, 2))],
            alerts=[("PROCESSING_LATE", t(W49, 3), t(W50, 1))],
            closed=(t(W50, 1), True),
        ),
        # received at Monday 00:00 local of W49 (Sunday 17:00 UTC): W49
        summary("C", t(W49, 0, 0, 0), due=[(t(W49, 0, 0, 0), t(W49, 10))]),
        # finished before its due date but after two supplement requests: late (§7)
        summary(
            "D",
            t(W49, 1),
            due=[(t(W49, 1), t(W50, 4))],
            supplements=[t(W49, 1, 10), t(W49, 2, 10)],
            closed=(t(W49, 3), True),
        ),
        # closed without a result: neither finished on time nor late
        summary("E", t(W49, 1), due=[(t(W49, 1), t(W50, 4))], closed=(t(W49, 2), False)),
        # late since W48 and still open: late at the end of W48, of W49 and at now
        summary(
            "F",
            t(W48, 1),
            due=[(t(W48, 1), t(W48, 3))],
            alerts=[
                ("DUE_SOON", t(W48, 2), t(W48, 3)),
                ("PROCESSING_LATE", t(W48, 3, 10), None),
            ],
        ),
        # never received (a sectoral dossier the one-stop system does not know): nowhere
        summary("G", None, alerts=[("PROCESSING_LATE", t(W48, 3), None)]),
    ]


NOW = datetime.fromtimestamp(t(W50, 2, 12) / 1000, tz=TZ)  # Wednesday of W50, noon


def test_every_week_from_the_first_receipt_to_now() -> None:
    rows = weeks(province(), None, None, NOW)
    assert [(r["week"], r["start"], r["end"]) for r in rows] == [
        ("2026-W48", "2026-11-23", "2026-11-29"),
        ("2026-W49", "2026-11-30", "2026-12-06"),
        ("2026-W50", "2026-12-07", "2026-12-13"),
    ]
    assert figures(rows) == {
        "2026-W48": (3, 1, 0, 1),  # A, B, F received; A on time; F late at the week's end
        "2026-W49": (3, 0, 1, 2),  # C, D, E received; D late (supplements); B and F late
        "2026-W50": (0, 0, 1, 1),  # B finished late; F late at now
    }


def test_a_late_dossier_counts_only_until_its_closing_and_up_to_now() -> None:
    # at Tuesday 08:00 of W50, B is still open (it closes at 09:00): both B and F are late
    early = datetime.fromtimestamp(t(W50, 1, 8) / 1000, tz=TZ)
    assert figures(weeks(province(), None, None, early))["2026-W50"] == (0, 0, 0, 2)
    # before B's PROCESSING_LATE was raised (and D finished, both at 09:00), W49 shows F alone
    before = datetime.fromtimestamp(t(W49, 3, 8) / 1000, tz=TZ)
    assert figures(weeks(province(), None, None, before))["2026-W49"] == (3, 0, 0, 1)


def test_the_period_cuts_the_weeks() -> None:
    # from Tuesday of W48 to Tuesday of W49 (exclusive): A received before the window but
    # finished in it; C received at W49's first instant; the first week's late figure at its
    # end, the last week's at the period's end (Monday 23:59:59.999)
    start = datetime(2026, 11, 24, tzinfo=TZ)
    end = datetime(2026, 12, 1, tzinfo=TZ)
    rows = weeks(province(), start, end, NOW)
    assert figures(rows) == {"2026-W48": (2, 1, 0, 1), "2026-W49": (1, 0, 0, 1)}
    # to Wednesday: D and E received on Tuesday; D finishes on Thursday, outside
    assert figures(weeks(province(), start, datetime(2026, 12, 2, tzinfo=TZ), NOW)) == {
        "2026-W48": (2, 1, 0, 1),
        "2026-W49": (3, 0, 0, 1),
    }


def test_empty_weeks_are_listed_and_no_receipt_means_no_weeks() -> None:
    far = datetime(2026, 12, 28, 12, tzinfo=TZ)  # Monday of W53
    rows = weeks(province(), None, None, far)
    assert [r["week"] for r in rows][-1] == "2026-W53"
    assert figures(rows)["2026-W52"] == (0, 0, 0, 1)  # F, still late
    assert weeks([], None, None, NOW) == []
    assert weeks([summary("G", None)], None, None, NOW) == []
    # a period after now: nothing judged yet
    assert weeks(province(), datetime(2027, 1, 1, tzinfo=TZ), None, NOW) == []


def test_monday_is_the_local_week_start() -> None:
    sunday_night_utc = datetime.fromtimestamp(t(W49, 0, 0, 30) / 1000, tz=TZ)
    assert monday(sunday_night_utc).isoformat() == "2026-11-30"
