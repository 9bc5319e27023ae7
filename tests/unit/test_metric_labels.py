"""/metrics unit labels come only from the unit list (issue 13): a unit code made up by a sender
is counted under `other`, never a label of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest

from hub.domain.stats import Summary
from hub.errors import ConfigError
from hub.metrics import OTHER_UNIT, HubMetrics, UnitLabels
from hub.monitoring import StateCollector
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.summaries import SummaryStore

KNOWN = "000.00.12.H49"
INVENTED = "999.99.99.X00"
RECEIVED = 1_762_000_000_000


def test_the_shipped_list_keeps_its_units_and_nothing_else() -> None:
    label = UnitLabels.from_file(Settings().units_file)
    assert label(KNOWN) == KNOWN
    assert label("land") == "land" and label("civil") == "civil"
    assert label("civil:UBND xã Bình Minh") == "civil:UBND xã Bình Minh"
    for made_up in (INVENTED, "civil:Ủy ban giả", "000.00.12.H49 ", "", OTHER_UNIT + "x"):
        assert label(made_up) == OTHER_UNIT


def test_a_bad_unit_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text("code,name\n000.00.12.H49,A\n,B\n")
    with pytest.raises(ConfigError, match="line 3"):
        UnitLabels.from_file(bad)
    bad.write_text("unit\n000.00.12.H49\n")
    with pytest.raises(ConfigError, match="line 1"):
        UnitLabels.from_file(bad)


def test_an_invented_unit_is_counted_under_other() -> None:
    metrics = HubMetrics()
    store = SummaryStore(Settings(clock="event"), system_clock, metrics)
    for n, unit in enumerate([KNOWN, INVENTED, INVENTED + "-2"]):
        summary = Summary(code=f"{unit}-261103-000{n}", unit=unit, received=RECEIVED)
        store.apply(0, summary.code.encode(), summary.dumps())
    store.clocks[0] = RECEIVED + 3_600_000
    metrics.registry.register(StateCollector(store, lambda: [], lambda: {0}))

    text = generate_latest(metrics.registry).decode()
    assert INVENTED not in text
    get = metrics.registry.get_sample_value
    assert get("motcua_open_dossiers", {"unit": KNOWN, "state": "within_due"}) == 1
    assert get("motcua_open_dossiers", {"unit": OTHER_UNIT, "state": "within_due"}) == 2
