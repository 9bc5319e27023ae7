"""rules.md §8 by hand: every figure of a responsibility row and its edges, then the sample feed.

Calendar: November 2026, Monday the 2nd; the 24th (Tuesday) is a public holiday.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.domain.events import CivilStatus, DossierEvent, EventKind
from hub.domain.responsibility import FIGURES, department_rows, officer_rows
from hub.domain.stats import Summary, ms, summarize
from tests.samples import END_TIME, SAMPLES, expected_alerts
from tests.unit.builders import CODE, civil, land, snapshot, step, t, tax
from tests.unit.test_samples_rules import CAL, ENGINE, _events

UNIT = CODE.split("-")[0]


def summary(*events: DossierEvent, code: str = CODE) -> Summary:
    return summarize(ENGINE.facts(code, events), CAL, 1)


def rows(
    *summaries: Summary,
    now: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    return officer_rows(list(summaries), CAL, start, end, t(now))


def row_of(found: list[dict[str, Any]], department: str, officer: str | None) -> dict[str, Any]:
    match = [r for r in found if (r["department"], r["officer"]) == (department, officer)]
    assert len(match) == 1, found
    return match[0]


def figures(r: dict[str, Any]) -> tuple[int, ...]:
    return tuple(r[k] for k in FIGURES)


# a dossier received on Tuesday 3/11, promised for Monday 30/11 17:00: not late in these
def received() -> DossierEvent:
    return snapshot("03/11 08:30", due="30/11 17:00")


def test_a_step_followed_in_time_is_a_step_not_overdue() -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("04/11 16:59", unit="B", officer="Bình"),
    )
    found = rows(s, now="10/11 12:00")
    assert figures(row_of(found, "A", "An")) == (1, 0, 0, 0, 0, 0)
    # a hand-over without a deadline is no step, and B holds nothing late: no row
    assert [r["officer"] for r in found] == ["An"]


def test_a_step_followed_late_counts_working_days_to_the_follower() -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("09/11 10:00", unit="B", officer="Bình"),  # Thu 5, Fri 6, Mon 9
    )
    assert figures(row_of(rows(s, now="20/11 12:00"), "A", "An")) == (1, 1, 0, 3, 0, 0)
    # before the follower came the step is still overdue, its overrun running to "now"
    assert figures(row_of(rows(s, now="06/11 12:00"), "A", "An")) == (1, 1, 1, 2, 0, 0)


def test_a_step_overdue_within_its_deadlines_day_counts_zero_days_but_counts() -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 12:00", unit="A", officer="An"),
        step("04/11 15:00", unit="B", officer="Bình"),
    )
    assert figures(row_of(rows(s, now="10/11 12:00"), "A", "An")) == (1, 1, 0, 0, 0, 0)


def test_overrun_skips_weekends_and_holidays() -> None:
    s = summary(
        snapshot("20/11 08:30", due="04/12 17:00"),
        step("20/11 09:00", deadline="20/11 17:00", unit="A", officer="An"),
        step("25/11 10:00", unit="B", officer="Bình"),  # Mon 23; Tue 24 a holiday; Wed 25
    )
    assert figures(row_of(rows(s, now="30/11 12:00"), "A", "An")) == (1, 1, 0, 2, 0, 0)


def test_several_handovers_at_one_instant_are_one_step_of_the_last_holder() -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("03/11 09:00", deadline="05/11 17:00", unit="B", officer="Bình"),
        step("03/11 09:00", deadline="03/11 17:00", unit="B", officer="Anh"),
        step("06/11 10:00", unit="C", officer="Cúc"),
    )
    found = rows(s, now="20/11 12:00")
    # one step: the deadline the latest of theirs (5/11), the holder the one sorting last (B,
    # Bình); overdue by one working day (Friday 6/11)
    assert figures(row_of(found, "B", "Bình")) == (1, 1, 0, 1, 0, 0)
    assert len(found) == 1


def test_a_step_is_followed_by_a_pause_start_or_a_closing() -> None:
    paused = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        tax(EventKind.TAX_NOTICE_ISSUED, "04/11 10:00"),  # a financial pause starts
        tax(EventKind.TAX_PAID, "04/11 11:00"),
    )
    closed = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        civil(CivilStatus.DA_CO_KET_QUA, "06/11 09:00"),  # a closing: Thu 5 and Fri 6 late
    )
    assert figures(row_of(rows(paused, now="20/11 12:00"), "A", "An")) == (1, 0, 0, 0, 0, 0)
    assert figures(row_of(rows(closed, now="20/11 12:00"), "A", "An")) == (1, 1, 0, 2, 0, 0)


def test_land_records_are_left_out_as_the_contract_sample_has_it() -> None:
    """docs/interpretations.md 17: a land hand-over follows a one-stop step for STEP_OVERDUE
    (§5) but not for §8; land steps are no §8 steps; the holder is the one-stop/civil one."""
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        land(
            EventKind.LAND_HANDOVER,
            "04/11 10:00",
            holder_unit="Tổ thẩm định",
            holder_officer="cb.thamdinh",
            deadline="10/11 17:00",
        ),
        land(EventKind.LAND_SUPPLEMENT_REQUESTED, "05/11 10:00", pause=True),
        land(EventKind.LAND_SUPPLEMENT_RECEIVED, "05/11 11:00"),
        step("09/11 10:00", unit="B", officer="Bình"),
    )
    assert [a for a in s.alerts if a[0] == "STEP_OVERDUE"] == []  # §5: followed in time
    found = rows(s, now="20/11 12:00")
    assert figures(row_of(found, "A", "An")) == (1, 1, 0, 3, 0, 0)
    assert [r["officer"] for r in found] == ["An"]  # no row for the land step or its officer


def test_a_step_whose_deadline_has_not_come_is_not_counted_yet() -> None:
    s = summary(received(), step("03/11 09:00", deadline="05/11 17:00", unit="A", officer="An"))
    assert rows(s, now="05/11 16:59") == []
    assert figures(row_of(rows(s, now="05/11 17:00"), "A", "An")) == (1, 1, 1, 0, 0, 0)


def test_the_period_takes_steps_by_their_deadline() -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("05/11 09:00", deadline="09/11 17:00", unit="A", officer="An"),
        step("12/11 09:00", unit="B", officer="Bình"),
    )
    # the first step is followed by the second (one day late), the second by B (3 days)
    every = row_of(rows(s, now="20/11 12:00"), "A", "An")
    assert figures(every) == (2, 2, 0, 1 + 3, 0, 0)
    nov_5_on = rows(s, now="20/11 12:00", start=t("05/11 00:00"))
    assert figures(row_of(nov_5_on, "A", "An")) == (1, 1, 0, 3, 0, 0)
    until_5 = rows(s, now="20/11 12:00", end=t("05/11 00:00"))
    assert figures(row_of(until_5, "A", "An")) == (1, 1, 0, 1, 0, 0)


def test_late_at_breach_and_held_late_now_go_to_the_holders_then_and_now() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("03/11 09:00", unit="A", officer="An"),  # no deadline: no step
        step("06/11 09:00", unit="B", officer="Bình"),
    )
    found = rows(s, now="10/11 12:00")
    # PROCESSING_LATE at the due date, held by A then; open past due now, held by B
    assert figures(row_of(found, "A", "An")) == (0, 0, 0, 0, 1, 0)
    assert figures(row_of(found, "B", "Bình")) == (0, 0, 0, 0, 0, 1)
    # the breach is counted in the period of its condition_at; held late now in any period
    later = rows(s, now="10/11 12:00", start=t("06/11 00:00"))
    assert [(r["officer"], r["late_at_breach"], r["held_late_now"]) for r in later] == [
        ("Bình", 0, 1)
    ]
    # before the due date nobody has anything
    assert rows(s, now="05/11 16:59") == []


def test_the_breach_holder_among_handovers_at_one_instant_and_before_any() -> None:
    at_once = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("05/11 17:00", unit="A", officer="An"),
        step("05/11 17:00", unit="A", officer="Ba"),  # sorts last: holder at the breach
    )
    assert [(r["officer"], r["late_at_breach"]) for r in rows(at_once, now="06/11 12:00")] == [
        ("Ba", 1)
    ]
    nobody = summary(snapshot("03/11 08:30", due="05/11 17:00"))
    # before any hand-over the holder is the receiving unit (DonViXuLy), no officer
    assert rows(nobody, now="06/11 12:00") == [
        {
            "unit": UNIT,
            "department": "Chi nhánh VPĐKĐĐ Thăng Bình",
            "officer": None,
            "steps": 0,
            "steps_overdue": 0,
            "still_overdue": 0,
            "overrun_working_days": 0,
            "late_at_breach": 1,
            "held_late_now": 1,
        }
    ]


def test_order_and_department_rows() -> None:
    other, third = "000.00.01.H49-261103-0001", UNIT + "-261105-0001"
    a = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("10/11 09:00", unit="B", officer="Bình"),
    )
    b = summary(
        snapshot("03/11 08:30", due="30/11 17:00", dossier_code=other),
        step_of(other, "03/11 09:00", deadline="04/11 17:00", unit="Z", officer="Zung"),
        step_of(other, "10/11 09:00", unit="Y", officer="Yến"),
        code=other,
    )
    c = summary(
        snapshot("05/11 08:30", due="30/11 17:00", dossier_code=third),
        step_of(third, "05/11 09:00", deadline="05/11 17:00", unit="A", officer="Ba"),
        step_of(third, "10/11 09:00", unit="B", officer="Bình"),
        code=third,
    )
    found = rows(a, b, c, now="20/11 12:00")
    # A/An and Z/Zung tie on 4 days and 1 step: by unit code; A/Ba has 3 days
    assert [(r["unit"], r["officer"], r["overrun_working_days"]) for r in found] == [
        ("000.00.01.H49", "Zung", 4),
        (UNIT, "An", 4),
        (UNIT, "Ba", 3),
    ]
    assert [
        (r["unit"], r["department"], r["overrun_working_days"]) for r in department_rows(found)
    ] == [
        (UNIT, "A", 7),
        ("000.00.01.H49", "Z", 4),
    ]
    assert "officer" not in department_rows(found)[0]
    assert department_rows(found)[0]["steps_overdue"] == 2


def step_of(code: str, at: str, **kw: Any) -> DossierEvent:
    ev = step(at, **kw)
    return ev.model_copy(update={"dossier_code": code})


def test_the_sample_feed_gives_exactly_the_expected_responsibility_rows() -> None:
    want = json.loads((SAMPLES / "expected_responsibility.json").read_text(encoding="utf-8"))
    summaries = [summarize(ENGINE.facts(c, evs), CAL, 1) for c, evs in _events().items()]
    got = officer_rows(summaries, CAL, None, None, END_TIME)
    assert got == want["rows"]
    # and through the wire form every worker reads
    again = [Summary.loads(s.dumps()) for s in summaries]
    assert officer_rows(again, CAL, None, None, END_TIME) == want["rows"]
    departments = department_rows(got)
    for key in ("steps", "steps_overdue", "late_at_breach", "held_late_now"):
        assert sum(r[key] for r in departments) == sum(r[key] for r in got)


@pytest.mark.parametrize("field", ["holders", "steps"])
def test_summaries_with_bad_section_8_data_are_refused(field: str) -> None:
    s = summary(
        received(),
        step("03/11 09:00", deadline="04/11 17:00", unit="A", officer="An"),
        step("05/11 09:00", unit="B", officer="Bình"),
    )
    data = json.loads(s.dumps())
    if field == "holders":
        data["holders"] = list(reversed(data["holders"]))  # out of order
    else:
        data["steps"][0][1] = -5  # a time out of range
    with pytest.raises(ValueError):
        Summary.loads(json.dumps(data).encode())
    data = json.loads(s.dumps())
    data["holders"][0][1] = "fax"  # no such system
    with pytest.raises(ValueError):
        Summary.loads(json.dumps(data).encode())


def test_a_late_dossier_held_in_the_land_system_is_put_on_its_last_one_stop_holder() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("03/11 09:00", unit="A", officer="An"),
        land(
            EventKind.LAND_HANDOVER, "04/11 10:00", holder_unit=None, holder_officer="cb.thamdinh"
        ),
    )
    breach = next(r for kind, r, _ in s.alerts if kind == "PROCESSING_LATE")
    assert s.holder_at(breach) == (None, "cb.thamdinh")  # the alert's responsible holder (§4)
    assert s.responsible_at(breach) == ("A", "An")
    found = rows(s, now="06/11 12:00")
    assert [(r["department"], r["officer"], r["late_at_breach"]) for r in found] == [("A", "An", 1)]


def test_the_summarys_holder_history_gives_the_alerts_holders() -> None:
    """The history kept in the summary (one entry per change) answers as the facts do, at every
    hand-over instant and just before it, and names each expected alert's responsible holder."""
    by_code = {}
    for code, evs in _events().items():
        f = ENGINE.facts(code, evs)
        s = summarize(f, CAL, 1)
        by_code[code] = s
        for h in f.handovers:
            for when in (h.at, h.at - timedelta(milliseconds=1)):
                assert s.holder_at(ms(when)) == f.holder_at(when), (code, when)
    for a in expected_alerts():
        at = datetime.fromisoformat(str(a["condition_at"]))
        held = by_code[str(a["dossier_code"])].holder_at(ms(at))
        assert held == (a["responsible_unit"], a["responsible_officer"]), a
