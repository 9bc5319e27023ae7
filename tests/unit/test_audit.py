"""rules.md §9 by hand: each finding kind and its edges; the findings in the summary, the §7 rows,
the list over the summaries and the trace. November 2026: Monday the 2nd; 24/11 a holiday."""

from __future__ import annotations

import json

import pytest

from hub import monitoring
from hub.domain.audit import findings
from hub.domain.calendar import to_local
from hub.domain.events import DossierEvent, EventKind
from hub.domain.stats import Summary, at, ms, summarize, unit_stats
from hub.metrics import HubMetrics
from hub.monitoring import StateCollector
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.summaries import SummaryStore
from hub.web.trace import build_trace
from tests.samples import END_TIME
from tests.unit.builders import CODE, apology, snapshot, step, t, tax
from tests.unit.test_samples_rules import CAL, ENGINE, _events

UNIT = CODE.split("-")[0]


def summary(*events: DossierEvent, code: str = CODE) -> Summary:
    return summarize(ENGINE.facts(code, events), CAL, 1)


def kinds(s: Summary) -> list[tuple[str, str]]:
    """(kind, local time) of each finding."""
    return [(x.kind, t_str(x.at)) for x in s.findings]


def t_str(value: int) -> str:
    return to_local(at(value)).strftime("%d/%m %H:%M")


# -- DUE_DATE_EXTENDED ----------------------------------------------------------------------------
def extended(*more: DossierEvent) -> Summary:
    return summary(
        snapshot("03/11 08:30", due="10/11 17:00"),
        snapshot("11/11 09:00", due="17/11 17:00", status=4, first=False),
        snapshot("12/11 09:00", due="17/11 17:00", status=4, first=False),  # the same date again
        snapshot("13/11 09:00", due="20/11 17:00", status=4, first=False),
        *more,
    )


def test_an_extended_date_without_an_apology_is_found_once_per_date() -> None:
    s = extended()
    # the time is the final due date, the promise each one extends
    assert kinds(s) == [("DUE_DATE_EXTENDED", "10/11 17:00"), ("DUE_DATE_EXTENDED", "10/11 17:00")]
    got = findings([s], None, None, t("30/11 12:00"))
    assert [f["detail"] for f in got] == ["2026-11-17T17:00:00+07:00", "2026-11-20T17:00:00+07:00"]
    assert {f["due_date"] for f in got} == {"2026-11-10T17:00:00+07:00"}


def test_an_extended_date_with_an_apology_is_no_finding() -> None:
    # the apology letter announces the new date: whenever it came, nothing is hidden
    assert extended(apology("09/11 10:00")).findings == []
    # one sent after the due date is no extension either, but a late apology
    assert kinds(extended(apology("12/11 10:00"))) == [("APOLOGY_AFTER_DUE", "12/11 10:00")]


def test_a_date_that_a_pause_moved_the_due_date_to_is_no_extension() -> None:
    s = summary(
        snapshot("03/11 08:30", due="10/11 17:00"),
        step("04/11 09:00", status=5),  # a supplement request, 2 working days
        step("06/11 09:00"),
        snapshot("06/11 10:00", due="12/11 17:00", status=4, first=False),
        snapshot("06/11 11:00", due="13/11 17:00", status=4, first=False),
    )
    # due 10/11 moved by 4/11 -> 6/11 (two working days) to 12/11: only 13/11 extends it
    assert kinds(s) == [("DUE_DATE_EXTENDED", "12/11 17:00")]


# -- PAUSE_AFTER_DUE ------------------------------------------------------------------------------
def test_a_pause_starting_exactly_at_the_due_date_is_found() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("05/11 17:00", status=5),
        step("09/11 09:00"),
    )
    assert kinds(s) == [("PAUSE_AFTER_DUE", "05/11 17:00")]
    (f,) = findings([s], None, None, t("10/11 12:00"))
    assert f["detail"] == "supplement" and f["due_date"] == "2026-11-05T17:00:00+07:00"


def test_a_pause_before_the_due_date_is_no_finding() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("05/11 16:59", status=5),
        step("09/11 09:00"),
    )
    assert s.findings == []


def test_one_finding_per_start_of_any_system_even_an_empty_pause() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        tax(EventKind.TAX_NOTICE_ISSUED, "06/11 09:00", notice="TB-1"),
        step("06/11 09:00", status=6),  # the same start from the one-stop system
        tax(EventKind.TAX_PAID, "06/11 10:00", notice="TB-1"),
        step("09/11 09:00", status=5),
        step("09/11 09:00", status=4, unit="B"),  # ends it at once: an empty pause
    )
    assert kinds(s) == [("PAUSE_AFTER_DUE", "06/11 09:00"), ("PAUSE_AFTER_DUE", "09/11 09:00")]
    assert [x.note for x in s.findings] == ["financial", "supplement"]


def test_a_pause_inside_a_pause_that_moves_the_due_date_is_no_finding() -> None:
    """docs/interpretations.md 23: the clock is stopped then; the second pause extends the
    first and so moves the due date too."""
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("04/11 09:00", status=5),  # before the due date: it moves it
        tax(EventKind.TAX_NOTICE_ISSUED, "06/11 09:00"),  # after the due date, while paused
        step("10/11 09:00"),
        tax(EventKind.TAX_PAID, "10/11 10:00"),
    )
    assert s.findings == []


def test_a_pause_of_a_closed_or_not_yet_received_dossier_is_no_finding() -> None:
    closed = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("06/11 09:00", status=9),
        step("06/11 10:00", status=5),
    )
    assert closed.findings == []


# -- APOLOGY_AFTER_DUE ----------------------------------------------------------------------------
def test_an_apology_at_the_due_date_is_in_time() -> None:
    s = summary(snapshot("03/11 08:30", due="05/11 17:00"), apology("05/11 17:00"))
    assert s.findings == []


def test_an_apology_after_the_due_date_is_found_once_per_date() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        apology("05/11 17:01"),
        apology("05/11 17:01"),  # the same letter again
        apology("09/11 08:00"),
    )
    assert kinds(s) == [("APOLOGY_AFTER_DUE", "05/11 17:01"), ("APOLOGY_AFTER_DUE", "09/11 08:00")]


def test_an_apology_after_the_original_date_while_a_pause_moves_it_is_in_time() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("05/11 09:00", status=5),
        apology("06/11 09:00"),  # the due date will move: the promise is not broken
        step("09/11 09:00"),
    )
    assert s.findings == []


# -- the list, the §7 rows, the trace ------------------------------------------------------------
def test_findings_list_holder_period_and_now() -> None:
    other = "000.00.01.H49-261103-0001"
    a = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        step("04/11 09:00", unit="A", officer="An"),
        apology("09/11 08:00"),
    )
    b = summary(
        snapshot("03/11 08:30", due="05/11 17:00", dossier_code=other),
        apology("09/11 08:00").model_copy(update={"dossier_code": other}),
        code=other,
    )
    got = findings([a, b], None, None, t("20/11 12:00"))
    assert [(f["dossier_code"], f["at"]) for f in got] == [
        (other, "2026-11-09T08:00:00+07:00"),  # same time: by dossier code
        (CODE, "2026-11-09T08:00:00+07:00"),
    ]
    mine = got[1]
    assert mine["kind"] == "APOLOGY_AFTER_DUE" and mine["unit"] == UNIT
    assert (mine["department"], mine["officer"]) == ("A", "An")  # the holder then (§4)
    assert got[0]["department"] == "Chi nhánh VPĐKĐĐ Thăng Bình" and got[0]["officer"] is None
    assert CODE in mine["message"]
    assert findings([a, b], None, None, t("09/11 07:59")) == []  # its time has not come
    assert findings([a, b], t("10/11 00:00"), None, t("20/11 12:00")) == []
    assert len(findings([a, b], t("09/11 00:00"), t("10/11 00:00"), t("20/11 12:00"))) == 2
    assert all(set(f) >= {"kind", "dossier_code", "unit", "at", "department"} for f in got)


def test_findings_are_counted_in_the_unit_rows() -> None:
    s = summary(
        snapshot("03/11 08:30", due="05/11 17:00"),
        apology("06/11 08:00"),
        step("09/11 09:00", status=5),
        step("10/11 09:00"),
    )
    assert len(s.findings) == 2
    (before,) = unit_stats([s], now=t("06/11 12:00"))
    (after,) = unit_stats([s], now=t("10/11 12:00"))
    assert (before["audit_findings"], after["audit_findings"]) == (1, 2)


def test_the_trace_lists_the_findings_whose_time_has_come() -> None:
    events = [snapshot("03/11 08:30", due="05/11 17:00"), apology("06/11 08:00")]
    early = build_trace(CODE, events, ENGINE, t("06/11 07:00"))
    late = build_trace(CODE, events, ENGINE, t("06/11 12:00"))
    assert early["findings"] == []
    assert [f["kind"] for f in late["findings"]] == ["APOLOGY_AFTER_DUE"]
    assert late["findings"] == findings([summary(*events)], None, None, t("06/11 12:00"))


def test_the_sample_feed_has_no_finding() -> None:
    summaries = [summarize(ENGINE.facts(c, evs), CAL, 1) for c, evs in _events().items()]
    assert findings(summaries, None, None, END_TIME) == []  # expected_audit.jsonl is empty


def test_summaries_with_unknown_findings_are_refused() -> None:
    s = summary(snapshot("03/11 08:30", due="05/11 17:00"), apology("06/11 08:00"))
    assert Summary.loads(s.dumps()) == s
    data = json.loads(s.dumps())
    data["findings"][0][0] = "SOMETHING_ELSE"
    with pytest.raises(ValueError):
        Summary.loads(json.dumps(data).encode())
    data = json.loads(s.dumps())
    data["findings"][0][1] = 10**15  # beyond 2200
    with pytest.raises(ValueError):
        Summary.loads(json.dumps(data).encode())


def test_the_audit_gauge_counts_findings_per_kind_and_unit_of_this_workers_partitions() -> None:
    metrics = HubMetrics()
    store = SummaryStore(Settings(clock="event"), system_clock, metrics)
    mine, elsewhere = CODE, "000.00.01.H49-261103-0001"
    late = [snapshot("03/11 08:30", due="05/11 17:00"), apology("06/11 08:00")]
    paused = [*late, step("09/11 09:00", status=5), step("10/11 09:00")]
    store.apply(0, mine.encode(), summary(*paused).dumps())
    other = [e.model_copy(update={"dossier_code": elsewhere}) for e in late]
    store.apply(1, elsewhere.encode(), summary(*other, code=elsewhere).dumps())  # not judged here
    store.clocks[0] = ms(t("09/11 12:00"))
    metrics.registry.register(StateCollector(store, lambda: [], lambda: {0}))
    get = metrics.registry.get_sample_value
    assert get("motcua_audit_findings", {"kind": "APOLOGY_AFTER_DUE", "unit": UNIT}) == 1
    assert get("motcua_audit_findings", {"kind": "PAUSE_AFTER_DUE", "unit": UNIT}) == 1
    assert (
        get("motcua_audit_findings", {"kind": "APOLOGY_AFTER_DUE", "unit": "000.00.01.H49"}) is None
    )
    store.clocks[0] = ms(t("09/11 08:59"))  # the pause's time has not come yet
    assert get("motcua_audit_findings", {"kind": "PAUSE_AFTER_DUE", "unit": UNIT}) is None


async def test_a_worker_scrape_answers_from_the_last_count_of_its_refresher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a province's size a pass over the summaries takes seconds: the worker's timer counts
    (hub/service.py, StateCollector.refresh) and a scrape answers from that count at once."""
    monkeypatch.setattr(monitoring, "SCRAPE_COUNT_MAX", 0)  # a "large" province of one
    metrics = HubMetrics()
    store = SummaryStore(Settings(clock="event"), system_clock, metrics)
    late = [snapshot("03/11 08:30", due="05/11 17:00"), apology("06/11 08:00")]
    store.apply(0, CODE.encode(), summary(*late).dumps())
    store.clocks[0] = ms(t("09/11 12:00"))
    collector = StateCollector(store, lambda: [], lambda: {0})
    metrics.registry.register(collector)
    get = metrics.registry.get_sample_value
    key = {"kind": "APOLOGY_AFTER_DUE", "unit": UNIT}
    await collector.refresh()
    assert get("motcua_audit_findings", key) == 1
    store.clocks[0] = ms(t("05/11 12:00"))  # before the apology: not counted until the next pass
    assert get("motcua_audit_findings", key) == 1
    await collector.refresh()
    assert get("motcua_audit_findings", key) is None
    monkeypatch.setattr(monitoring, "SCRAPE_COUNT_MAX", 20_000)  # small: counted at the scrape
    await collector.refresh()
    store.clocks[0] = ms(t("09/11 12:00"))
    assert get("motcua_audit_findings", key) == 1
