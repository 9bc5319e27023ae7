"""An event's identity is its source and its id (sources.md, "Redelivery and identity"): ids of
different systems may coincide, so a civil event never passes for a redelivery of a tax event that
has the same id. Everywhere events are compared: de-duplication in the facts, the stored state,
withdrawals (whose old payload, a list of ids, stays readable) and states stored before."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from hub.codec import encode_event
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.dossier import dedupe, derive
from hub.domain.engine import Engine
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source
from hub.protocol import KIND_EVENT, KIND_WITHDRAW, ProtocolError, encode_withdraw, parse_withdraw
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.state import DossierState

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), 1)
CODE = "000.00.12.H49-261103-0001"
NOW = datetime(2026, 12, 10, tzinfo=TZ)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def snapshot() -> DossierEvent:
    return DossierEvent(
        event_id="snap-1",
        source=Source.ONESTOP,
        kind=EventKind.SNAPSHOT,
        dossier_code=CODE,
        event_time=t("2026-11-03T08:30"),
        status=2,
        first_sync=True,
        received_at=t("2026-11-03T08:30"),
        appointment_at=t("2026-11-17T17:00"),
        procedure_code="1.013831",
    )


def tax(event_id: str = "EV-7") -> DossierEvent:
    return DossierEvent(
        event_id=event_id,
        source=Source.TAX,
        kind=EventKind.TAX_OBLIGATION_RECEIVED,
        dossier_code=CODE,
        event_time=t("2026-11-04T09:00"),
    )


def civil_closing(event_id: str = "EV-7") -> DossierEvent:
    return DossierEvent(
        event_id=event_id,
        source=Source.CIVIL,
        kind=EventKind.CIVIL,
        dossier_code=CODE,
        event_time=t("2026-11-05T10:00"),
        civil_status=CivilStatus.DA_CO_KET_QUA,
        holder_unit="UBND xã Bình Minh",
    )


def test_dedupe_keeps_events_of_two_sources_with_one_id() -> None:
    kept = dedupe([tax(), civil_closing(), tax()])
    assert sorted(e.source.value for e in kept) == ["civil", "tax"]


def test_a_civil_closing_with_a_tax_events_id_closes_the_dossier() -> None:
    facts = derive(CODE, [snapshot(), tax(), civil_closing()], CAL, ENGINE.catalog)
    assert facts.closed_at == t("2026-11-05T10:00")


def test_the_state_tells_sources_apart() -> None:
    state = DossierState(0)
    state.add(tax(), encode_event(tax()))
    assert state.has(tax())
    assert not state.has(civil_closing())


def test_the_judge_judges_the_civil_closing() -> None:
    judge = Judge(Settings(clock=ClockMode.WALL), ENGINE, lambda: NOW, {})
    key = CODE.encode()
    alerts = []
    for ev in (snapshot(), tax(), civil_closing()):
        alerts += judge.handle(KIND_EVENT, 0, key, encode_event(ev))
    state = judge.cache.get(key)
    assert state is not None and len(state.events) == 3
    duplicates = judge.metrics.registry.get_sample_value(
        "motcua_duplicate_events_total", {"source": "civil"}
    )
    assert duplicates is None
    # finished by the civil system on 5/11, which the one-stop system never reported
    assert ("UNREPORTED_COMPLETION", "RAISED") in [(a.type.value, a.state.value) for a in alerts]
    # and the lateness judged before it came is retracted: it finished before its due date
    late = [a for a in alerts if a.type.value == "PROCESSING_LATE"]
    assert [(a.state.value, a.details.get("reason")) for a in late] == [
        ("RAISED", None),
        ("RESOLVED", "late-data"),
    ]


# -- withdrawals ----------------------------------------------------------------------------------
def test_a_withdrawal_carries_source_and_id() -> None:
    payload = encode_withdraw([("land", "EV-7"), ("civil", "EV-8")])
    assert parse_withdraw(payload) == {("land", "EV-7"), ("civil", "EV-8")}


def test_the_old_withdrawal_payload_is_still_read_as_ids_of_any_source() -> None:
    assert parse_withdraw(json.dumps(["EV-7", "EV-8"]).encode()) == {(None, "EV-7"), (None, "EV-8")}


@pytest.mark.parametrize(
    "payload",
    [b'[["land"]]', b'[["land", 7]]', b'[["nowhere", "EV-7"]]', b'[["land", "EV-7", "x"]]', b"[1]"],
)
def test_a_bad_withdrawal_is_a_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_withdraw(payload)


def _owner_holding_both() -> tuple[Judge, bytes]:
    judge = Judge(Settings(clock=ClockMode.WALL), ENGINE, lambda: NOW, {})
    key = CODE.encode()
    land = DossierEvent(
        event_id="EV-7",
        source=Source.LAND,
        kind=EventKind.LAND_HANDOVER,
        dossier_code=CODE,
        event_time=t("2026-11-04T10:00"),
    )
    for ev in (snapshot(), tax(), land):
        judge.handle(KIND_EVENT, 0, key, encode_event(ev))
    return judge, key


def test_a_withdrawal_removes_only_the_event_of_its_source() -> None:
    judge, key = _owner_holding_both()
    judge.handle(KIND_WITHDRAW, 0, key, encode_withdraw([("land", "EV-7")]))
    state = judge.cache.get(key)
    assert state is not None
    assert sorted((e.source.value, e.event_id) for e in state.events) == [
        ("onestop", "snap-1"),
        ("tax", "EV-7"),
    ]


def test_an_old_withdrawal_removes_the_id_from_every_source() -> None:
    judge, key = _owner_holding_both()
    judge.handle(KIND_WITHDRAW, 0, key, json.dumps(["EV-7"]).encode())
    state = judge.cache.get(key)
    assert state is not None
    assert [(e.source.value, e.event_id) for e in state.events] == [("onestop", "snap-1")]


def test_a_claim_withdraws_by_source_and_id() -> None:
    """A claimed `<source>:<id>` dossier tells its previous owner which events left: by source
    and id, so an event of the owner's own with the same id stays."""
    judge = Judge(Settings(clock=ClockMode.WALL), ENGINE, lambda: NOW, {})
    orphan = DossierEvent(
        event_id="EV-7",
        source=Source.LAND,
        kind=EventKind.LAND_HANDOVER,
        dossier_code="land:VBD-9",
        sector_id="land:VBD-9",
        event_time=t("2026-11-04T10:00"),
    )
    judge.handle(KIND_EVENT, 0, b"land:VBD-9", encode_event(orphan))
    judge.on_claim(0, b"land:VBD-9", json.dumps({"code": "B-2"}).encode())
    judge.on_claim(0, b"land:VBD-9", json.dumps({"code": "A-1"}).encode())
    withdrawals = [value for key, value, kind in judge.outbox if kind == KIND_WITHDRAW]
    assert [parse_withdraw(w) for w in withdrawals] == [{("land", "EV-7")}]


# -- a state stored before identities had sources ------------------------------------------------
# DossierState.dumps() of a dossier (snapshot, tax notice "X-1", step "X-2") judged at 2026-11-20
# 00:00 by the code before this change: four alerts emitted, as listed below.
OLD_STATE = base64.b64decode(
    "AgAAAAP//////////3gBjZFBaxQxFMezYVmKJ0HxA+TqZslLJjPJgIdql1qsnaUzFaXIkpnJgLB0F7bFQyks+EX2IL32"
    "poIHDz3YLyCIlyL4DXoQBME3u2zrimgfj/CSkP/v/14IaXw/ZCMWqzZ7yeK9g8GgzYaLwrP4kLmqVGUVKp6HAFy7sOCu"
    "LDS3CrQ2SlklJYt3WZp1e/3kSXd7bafLUGTPj/eHIz7e96N7UsiQ42uhM2FjITDvighX1obIooQIRB3tmYHKDcb+eZuF"
    "BpTLveNVqR3XJs+5AYGVq1TpHfhSRDUZgf00SbaQWh74SxhABjVjGRYgy8xhiA6UBTnfLaiiBCMcCF4ZZ7nOc8vRQ8C9"
    "NV7JPFK5VTV1tZdsJuvP+o830nRja/2a8EvcUqeRtTYKTMGrQuOMQyt5HlWWl4UrBXivpZ4xe9vJg+4M199czeoxX6fh"
    "vzGPjgghL04bd74+unF+6+Oo6YCQehIdTJCdh4HlEj9cKI6HeEcnny/eHH86adFm46qeTM9OX/84aaHYIuhN6AhQRgGh"
    "dGdxSkh6BWs95dC8/W/a9OfZ2y9LwuhhJbvP0cvvsbskKwn9j+y74/fn2MTKXIPSHqVDOplevPrw7Q8aIb8AFk7EBw=="
)
OLD_ALERTS = {
    "afd3df63-b611-5a6c-adc5-931558339322": ("STEP_OVERDUE", None),
    "6813abea-fd5a-58bb-810a-5af3dea1ed07": ("DUE_SOON", "2026-11-11T17:00:00+07:00"),
    "0d180a10-f8a9-5bb9-bea4-e98e32b73b93": ("APOLOGY_MISSING", None),
    "7999748c-fc51-5692-b7f9-dcad01ee5253": ("PROCESSING_LATE", None),
}


def test_a_state_stored_before_loads_and_behaves_the_same() -> None:
    state = DossierState.loads(OLD_STATE)
    assert state.partition == 3
    assert [(e.source.value, e.event_id) for e in state.events] == [
        ("onestop", "a1"),
        ("tax", "X-1"),
        ("onestop", "X-2"),
    ]
    resolved = {
        aid: (e.type, None if e.resolved_at is None else e.resolved_at.astimezone(TZ).isoformat())
        for aid, e in state.emitted.items()
    }
    assert resolved == OLD_ALERTS
    assert state.has(state.events[1])  # its own events are redeliveries
    other = state.events[1].model_copy(update={"source": Source.CIVIL, "kind": EventKind.CIVIL})
    assert not state.has(other)  # the same id from another system is not
    # judged again at the same instant: nothing new, nothing retracted
    now = t("2026-11-20T00:00")
    result = ENGINE.evaluate(CODE, state.events, state.emitted, now, now)
    assert result.alerts == []
    assert DossierState.loads(state.dumps()).dumps() == state.dumps()
