"""The contract's sample feed, decoded and judged by the pure core: exactly the expected alerts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest

from connectors import CONNECTORS, Context
from hub.domain.alerts import Alert
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Emitted, Engine
from hub.domain.events import DossierEvent
from hub.settings import DATA_DIR
from tests.samples import END_TIME, SECURITY_CODE, TOPICS, expected_alerts, scheduled

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
ENGINE = Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), grace_working_days=1)


def _events() -> dict[str, list[DossierEvent]]:
    by_dossier: dict[str, list[DossierEvent]] = defaultdict(list)
    for i, line in enumerate(scheduled()):
        ctx = Context(CAL, TOPICS[line.source], 0, i, 524288, SECURITY_CODE)
        for ev in CONNECTORS[line.source](line.raw, ctx).events:
            by_dossier[ev.dossier_code].append(ev)
    return by_dossier


def _key(a: dict[str, object]) -> tuple[str, str, str, datetime]:
    at = a["condition_at"]
    when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return (str(a["type"]), str(a["state"]), str(a["dossier_code"]), when)


def _judge_at_end() -> list[Alert]:
    alerts: list[Alert] = []
    for code, evs in _events().items():
        emitted: dict[str, Emitted] = {}
        alerts += ENGINE.evaluate(code, evs, emitted, END_TIME, END_TIME).alerts
    return alerts


@pytest.fixture(scope="module")
def produced() -> list[Alert]:
    return _judge_at_end()


def test_exactly_the_expected_transitions(produced: list[Alert]) -> None:
    got = sorted(_key(a.model_dump()) for a in produced)
    want = sorted(_key(a) for a in expected_alerts())
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    assert (missing, extra) == ([], [])


@pytest.mark.parametrize(
    "field",
    [
        "procedure_code",
        "unit_code",
        "responsible_unit",
        "responsible_officer",
        "due_original",
        "due_current",
    ],
)
def test_alert_fields_match(produced: list[Alert], field: str) -> None:
    by_key = {_key(a.model_dump()): a for a in produced}
    mismatches = []
    for want in expected_alerts():
        got = by_key.get(_key(want))
        if got is None:
            continue
        value = getattr(got, field)
        expected = want[field]
        if isinstance(value, datetime) and expected is not None:
            expected = datetime.fromisoformat(str(expected))
        if value != expected:
            mismatches.append((_key(want), value, expected))
    assert mismatches == []


def test_alert_ids_are_shared_by_raise_and_resolve(produced: list[Alert]) -> None:
    raised = {a.alert_id for a in produced if a.state.value == "RAISED"}
    resolved = [a.alert_id for a in produced if a.state.value == "RESOLVED"]
    assert resolved and all(r in raised for r in resolved)
    assert len(set(resolved)) == len(resolved)
