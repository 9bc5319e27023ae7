"""Every row of rules.md §5 and the clauses of §2-§3, on hand-built events. No Kafka."""

from __future__ import annotations

from datetime import datetime

from hub.domain.alerts import AlertType
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.dossier import derive
from hub.domain.engine import Emitted, Engine
from hub.domain.events import CivilStatus, DossierEvent
from hub.domain.events import EventKind as K
from hub.domain.rules import timeline
from hub.settings import DATA_DIR
from tests.unit.builders import CODE, apology, civil, land, snapshot, step, t, tax

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOG = Catalog.from_file(DATA_DIR / "procedures.csv")
DS, PL, AM = AlertType.DUE_SOON, AlertType.PROCESSING_LATE, AlertType.APOLOGY_MISSING
UC, NR, SO = (
    AlertType.UNREPORTED_COMPLETION,
    AlertType.NOT_RECEIVED_VIA_ONESTOP,
    AlertType.STEP_OVERDUE,
)


def run(*events: DossierEvent, code: str = CODE, grace: int = 1) -> list[tuple[str, str, datetime]]:
    facts = derive(code, events, CAL, CATALOG)
    return [
        (x.type.value[:2] + x.type.value[-2:], x.state.value[:3], x.condition_at)
        for x in timeline(facts, CAL, grace)
    ]


def of(kind: AlertType, events: list[tuple[str, str, datetime]]) -> list[tuple[str, datetime]]:
    tag = kind.value[:2] + kind.value[-2:]
    return [(s, at) for k, s, at in events if k == tag]


def due(*events: DossierEvent, at: str = "31/12 23:59", code: str = CODE) -> datetime | None:
    return derive(code, events, CAL, CATALOG).due_at(t(at), CAL)


# -- §2 due date ------------------------------------------------------------------------------
def test_due_is_the_first_sync_promise() -> None:
    first = snapshot(due="17/11 17:00")
    later = snapshot(due="20/11 17:00", first=False, status=4)
    assert due(first, later) == t("17/11 17:00")


def test_first_syncs_that_disagree_give_the_earliest_promise() -> None:
    a = snapshot(due="19/11 17:00")
    b = snapshot(due="18/11 17:00", received="03/11 09:00")
    c = snapshot(due="16/11 17:00", first=False, status=4)
    assert due(a, b, c) == t("16/11 17:00")


def test_no_promise_uses_the_catalogue() -> None:
    # 1.013831: 10 working days; received Tue 03/11 08:30 -> 17/11 17:00
    assert due(snapshot(due=None)) == t("17/11 17:00")
    # after 17:00: counted from 07:30 the next working day
    assert due(snapshot(received="03/11 17:30", due=None)) == t("18/11 17:00")
    # across the 24/11 holiday
    assert due(snapshot(received="20/11 10:00", due=None)) == t("07/12 17:00")


def test_same_day_procedures_and_the_15h_cutoff() -> None:
    same_day = "1.001193"
    assert due(snapshot(received="27/11 14:59", due=None, procedure=same_day)) == t("27/11 17:00")
    assert due(snapshot(received="27/11 15:00", due=None, procedure=same_day)) == t("30/11 17:00")
    assert due(snapshot(received="28/11 09:00", due=None, procedure=same_day)) == t("30/11 17:00")
    assert due(snapshot(received="23/11 16:00", due=None, procedure=same_day)) == t("25/11 17:00")


def test_unknown_procedure_has_no_due_date_and_is_never_late() -> None:
    events = (snapshot(due=None, procedure="9.999999"),)
    assert due(*events) is None
    assert of(PL, run(*events)) == []


def test_civil_only_dossier_takes_due_from_its_earliest_civil_event() -> None:
    code = "civil:HT.1"
    e = civil(CivilStatus.TIEP_NHAN, "16/11 11:05", procedure_code="1.001193", dossier_code=code)
    assert due(e, code=code) == t("16/11 17:00")


# -- §3 pauses --------------------------------------------------------------------------------
def test_supplement_pause_moves_the_due_date() -> None:
    events = (snapshot(due="17/11 17:00"), step("04/11 10:00", 5), step("06/11 10:00", 4))
    assert due(*events) == t("19/11 17:00")
    # before the pause ends, the due date in force has not moved
    assert due(*events, at="05/11 12:00") == t("17/11 17:00")


def test_pause_starting_at_or_after_due_moves_nothing() -> None:
    events = [snapshot(due="17/11 17:00"), step("18/11 10:00", 5), step("20/11 10:00", 4)]
    assert due(*events) == t("17/11 17:00")
    assert of(PL, run(*events)) == [("RAI", t("17/11 17:00"))]


def test_pause_open_at_the_due_date_makes_it_late_when_it_ends() -> None:
    events = [snapshot(due="17/11 17:00"), step("17/11 17:00", 5), step("19/11 09:00", 4)]
    assert of(PL, run(*events)) == [("RAI", t("19/11 09:00"))]


def test_tax_notices_pause_until_none_is_outstanding() -> None:
    events = [
        snapshot(due="17/11 17:00"),
        tax(K.TAX_NOTICE_ISSUED, "05/11 09:00", "A"),
        tax(K.TAX_NOTICE_ISSUED, "05/11 10:00", "B"),
        tax(K.TAX_PAID, "06/11 09:00", "A"),
        tax(K.TAX_PAID, "06/11 09:30", "X"),  # an unknown notice changes nothing
        tax(K.TAX_NOTICE_CANCELLED, "10/11 09:00", "B"),
    ]
    facts = derive(CODE, events, CAL, CATALOG)
    assert [(p.start, p.end) for p in facts.merged] == [(t("05/11 09:00"), t("10/11 09:00"))]
    assert due(*events) == t("20/11 17:00")  # 3 working days: 6, 9, 10


def test_overlapping_pauses_merge_and_count_once() -> None:
    events = [
        snapshot(due="17/11 17:00"),
        step("04/11 10:00", 5),
        tax(K.TAX_NOTICE_ISSUED, "05/11 10:00"),
        land(K.LAND_SUPPLEMENT_RECEIVED, "06/11 10:00"),  # ends the supplement only
        tax(K.TAX_PAID, "09/11 10:00"),
    ]
    facts = derive(CODE, events, CAL, CATALOG)
    assert [(p.start, p.end) for p in facts.merged] == [(t("04/11 10:00"), t("09/11 10:00"))]
    assert facts.supplement_requests == 1
    assert due(*events) == t("20/11 17:00")


def test_empty_pause_moves_and_blocks_nothing_but_is_a_step_follower() -> None:
    events = [
        snapshot(due="17/11 17:00"),
        step("10/11 09:00", 4, deadline="12/11 17:00"),
        step("11/11 10:00", 5),
        step("11/11 10:00", 4, unit="Tổ khác"),
    ]
    facts = derive(CODE, events, CAL, CATALOG)
    assert facts.merged and facts.merged[0].empty
    assert due(*events) == t("17/11 17:00")
    assert of(SO, run(*events)) == []
    assert facts.supplement_requests == 1


def test_pause_ends_at_closing_and_later_pauses_are_ignored() -> None:
    events = [
        snapshot(due="17/11 17:00"),
        step("16/11 10:00", 5),
        step("18/11 10:00", 10),
        step("19/11 10:00", 5),
    ]
    facts = derive(CODE, events, CAL, CATALOG)
    assert [(p.start, p.end) for p in facts.pauses] == [(t("16/11 10:00"), t("18/11 10:00"))]


# -- §5 DUE_SOON -------------------------------------------------------------------------------
def test_due_soon_raised_a_working_day_before_and_resolved_at_due() -> None:
    events = run(snapshot(due="17/11 17:00"))
    assert of(DS, events) == [("RAI", t("16/11 17:00")), ("RES", t("17/11 17:00"))]
    assert of(PL, events) == [("RAI", t("17/11 17:00"))]


def test_due_soon_resolved_by_closing() -> None:
    events = run(snapshot(due="17/11 17:00"), step("17/11 09:00", 9))
    assert of(DS, events) == [("RAI", t("16/11 17:00")), ("RES", t("17/11 09:00"))]
    assert of(PL, events) == []


def test_due_soon_not_raised_for_a_dossier_received_after_that_time() -> None:
    events = run(snapshot(received="17/11 08:00", due="17/11 17:00", procedure="1.001193"))
    assert of(DS, events) == []


def test_pause_resolves_due_soon_and_a_new_one_follows_the_moved_due_date() -> None:
    events = run(snapshot(due="17/11 17:00"), step("17/11 09:00", 5), step("18/11 09:00", 4))
    assert of(DS, events) == [
        ("RAI", t("16/11 17:00")),
        ("RES", t("17/11 09:00")),
        ("RAI", t("18/11 09:00")),  # new due 18/11 17:00, its due-soon time has passed
        ("RES", t("18/11 17:00")),
    ]


def test_due_soon_at_the_end_of_a_same_day_pause() -> None:
    events = run(snapshot(due="17/11 17:00"), step("16/11 16:00", 5), step("16/11 18:00", 4))
    assert of(DS, events) == [("RAI", t("16/11 18:00")), ("RES", t("17/11 17:00"))]


# -- §5 PROCESSING_LATE and APOLOGY_MISSING -----------------------------------------------------
def test_late_and_apology_missing_until_an_apology() -> None:
    events = run(snapshot(due="17/11 17:00"), apology("18/11 10:00"), step("20/11 10:00", 10))
    assert of(PL, events) == [("RAI", t("17/11 17:00")), ("RES", t("20/11 10:00"))]
    assert of(AM, events) == [("RAI", t("17/11 17:00")), ("RES", t("18/11 10:00"))]


def test_apology_before_the_due_date_means_no_apology_missing() -> None:
    events = run(snapshot(due="17/11 17:00"), apology("16/11 10:00"))
    assert of(PL, events) == [("RAI", t("17/11 17:00"))]
    assert of(AM, events) == []


def test_apology_before_the_raise_resolves_at_the_raise() -> None:
    # received after the due date: late from receipt; the apology came in between
    events = run(
        snapshot(received="18/11 09:00", due="17/11 17:00"),
        apology("17/11 18:00"),
    )
    assert of(PL, events) == [("RAI", t("18/11 09:00"))]
    assert of(AM, events) == [("RAI", t("18/11 09:00")), ("RES", t("18/11 09:00"))]


def test_closing_does_not_resolve_apology_missing() -> None:
    events = run(snapshot(due="17/11 17:00"), step("19/11 10:00", 10))
    assert of(AM, events) == [("RAI", t("17/11 17:00"))]


def test_sectoral_finish_is_not_processing_late() -> None:
    events = run(snapshot(due="17/11 17:00"), land(K.LAND_CLOSED, "16/11 10:00", with_result=True))
    assert of(PL, events) == []
    assert of(UC, events) == [("RAI", t("17/11 10:00"))]


# -- §5 UNREPORTED_COMPLETION ------------------------------------------------------------------
def test_unreported_completion_raised_after_grace_and_resolved_by_onestop() -> None:
    events = [
        snapshot(due="27/11 17:00"),
        land(K.LAND_CLOSED, "20/11 10:00", with_result=True),
        step("26/11 09:00", 10),
    ]
    assert of(UC, run(*events)) == [("RAI", t("23/11 10:00")), ("RES", t("26/11 09:00"))]
    assert of(UC, run(*events, grace=2)) == [("RAI", t("25/11 10:00")), ("RES", t("26/11 09:00"))]
    assert of(UC, run(*events, grace=3)) == []


def test_civil_refusal_counts_as_a_sectoral_closing() -> None:
    events = run(snapshot(due="27/11 17:00"), civil(CivilStatus.TU_CHOI, "20/11 10:00"))
    assert of(UC, events) == [("RAI", t("23/11 10:00"))]


# -- §5 NOT_RECEIVED_VIA_ONESTOP -----------------------------------------------------------------
def test_not_received_resolved_by_a_late_onestop_receipt() -> None:
    events = run(
        civil(CivilStatus.TIEP_NHAN, "12/11 13:58", procedure_code="1.001193"),
        snapshot(received="16/11 10:19", due="16/11 17:00", procedure="1.001193"),
    )
    assert of(NR, events) == [("RAI", t("13/11 13:58")), ("RES", t("16/11 10:19"))]


def test_not_received_never_resolved_for_a_sector_keyed_dossier() -> None:
    code = "land:VBD-1"
    events = run(land(K.LAND_HANDOVER, "05/11 13:39", dossier_code=code), code=code)
    assert of(NR, events) == [("RAI", t("06/11 13:39"))]


def test_onestop_receipt_within_grace_means_no_not_received() -> None:
    events = run(
        land(K.LAND_HANDOVER, "03/11 08:00"), snapshot(received="04/11 08:00", due="20/11 17:00")
    )
    assert of(NR, events) == []


def test_tax_events_alone_do_not_start_a_dossier() -> None:
    events = run(tax(K.TAX_NOTICE_ISSUED, "05/11 09:00"))
    assert events == []


# -- §5 STEP_OVERDUE -----------------------------------------------------------------------------
def test_step_overdue_raised_at_deadline_resolved_by_next_hand_over() -> None:
    events = run(
        snapshot(due="27/11 17:00"),
        step("18/11 12:23", 4, deadline="19/11 17:00"),
        civil(CivilStatus.DANG_XU_LY, "19/11 10:00"),  # civil events are not followers
        land(K.LAND_HANDOVER, "20/11 15:42", holder_officer="cb.x"),
    )
    assert of(SO, events) == [("RAI", t("19/11 17:00")), ("RES", t("20/11 15:42"))]


def test_a_pause_start_before_the_deadline_is_a_follower() -> None:
    events = run(
        snapshot(due="27/11 17:00"),
        land(K.LAND_HANDOVER, "18/11 12:00", deadline="19/11 17:00"),
        tax(K.TAX_NOTICE_ISSUED, "19/11 09:00"),
    )
    assert of(SO, events) == []


def test_hand_overs_at_one_instant_are_one_step_with_the_latest_deadline() -> None:
    events = run(
        snapshot(due="27/11 17:00"),
        step("18/11 12:00", 4, deadline="19/11 17:00", officer="A"),
        step("18/11 12:00", 4, deadline="20/11 17:00", officer="B"),
    )
    assert of(SO, events) == [("RAI", t("20/11 17:00"))]


def test_holder_ties_go_to_the_later_system_and_the_last_name() -> None:
    events = [
        snapshot(due="27/11 17:00"),
        step("18/11 12:00", 4, unit="Một cửa", officer="B"),
        step("18/11 12:00", 4, unit="Một cửa", officer="A"),
        land(K.LAND_HANDOVER, "18/11 12:00", holder_unit="Đất đai", holder_officer="cb.z"),
    ]
    facts = derive(CODE, events, CAL, CATALOG)
    assert facts.holder_at(t("18/11 12:00")) == ("Đất đai", "cb.z")
    assert facts.holder_at(t("18/11 11:59")) == ("Chi nhánh VPĐKĐĐ Thăng Bình", None)
    facts = derive(CODE, events[:3], CAL, CATALOG)
    assert facts.holder_at(t("18/11 12:00")) == ("Một cửa", "B")


# -- late data and identity --------------------------------------------------------------------
def test_late_data_retracts_an_alert_that_never_held() -> None:
    engine = Engine(CAL, CATALOG, 1)
    emitted: dict[str, Emitted] = {}
    events: list[DossierEvent] = [snapshot(due="17/11 17:00")]
    first = engine.evaluate(CODE, events, emitted, t("18/11 09:00"), t("18/11 09:00"))
    raised = [a for a in first.alerts if a.type is PL]
    assert raised and raised[0].state.value == "RAISED"
    events.append(step("17/11 10:00", 10))  # a finish dated before the due date, read late
    second = engine.evaluate(CODE, events, emitted, t("18/11 09:05"), t("18/11 09:05"))
    retraction = [a for a in second.alerts if a.type is PL]
    assert len(retraction) == 1
    assert retraction[0].state.value == "RESOLVED"
    assert retraction[0].details["reason"] == "late-data"
    assert retraction[0].condition_at == raised[0].condition_at
    assert retraction[0].alert_id == raised[0].alert_id
    # nothing more to say about it
    third = engine.evaluate(CODE, events, emitted, t("25/11 09:00"), t("25/11 09:00"))
    assert [a for a in third.alerts if a.type is PL] == []


def test_alert_ids_are_stable_and_distinct() -> None:
    engine = Engine(CAL, CATALOG, 1)
    events = [snapshot(due="17/11 17:00"), step("19/11 10:00", 10)]
    a = engine.evaluate(CODE, events, {}, t("30/11 00:00"), t("30/11 00:00")).alerts
    b = engine.evaluate(CODE, list(reversed(events)), {}, t("30/11 00:00"), t("01/12 00:00")).alerts
    assert [x.alert_id for x in a] == [x.alert_id for x in b]
    raised = [x.alert_id for x in a if x.state.value == "RAISED"]
    assert len(set(raised)) == len(raised)


def test_next_wake_is_the_next_transition() -> None:
    engine = Engine(CAL, CATALOG, 1)
    result = engine.evaluate(
        CODE, [snapshot(due="17/11 17:00")], {}, t("10/11 09:00"), t("10/11 09:00")
    )
    assert result.alerts == []
    assert result.next_wake == t("16/11 17:00")
