"""rules.md §7: the sample feed, judged purely as of its end time, gives the expected unit rows."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.domain.audit import Finding
from hub.domain.stats import COUNTERS, Summary, summarize, unit_stats
from tests.samples import END_TIME, expected_unit_stats
from tests.unit.test_samples_rules import CAL, ENGINE, _events


@pytest.fixture(scope="module")
def summaries() -> list[Summary]:
    return [summarize(ENGINE.facts(code, evs), CAL, 1) for code, evs in _events().items()]


def on_contract_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows cut to the contract's keys: the hub's rows also carry `audit_findings` (§9
    counted in the §7 rows), which expected_unit_stats.json predates; it is checked apart."""
    keys = set(expected_unit_stats()[0])
    return [{k: v for k, v in row.items() if k in keys} for row in rows]


def test_sample_feed_gives_exactly_the_expected_unit_stats(summaries: list[Summary]) -> None:
    rows = unit_stats(summaries, now=END_TIME)
    assert on_contract_keys(rows) == expected_unit_stats()
    # every other key of a row is the hub's own, and the feed has no finding (expected_audit)
    assert {k for row in rows for k in row} - set(expected_unit_stats()[0]) == {"audit_findings"}
    assert [row["audit_findings"] for row in rows] == [0] * len(rows)


def test_summary_wire_form_round_trips(summaries: list[Summary]) -> None:
    again = [Summary.loads(s.dumps()) for s in summaries]
    assert again == summaries
    assert unit_stats(again, now=END_TIME) == unit_stats(summaries, now=END_TIME)


def test_wire_form_is_byte_for_byte_the_dataclass_as_json(summaries: list[Summary]) -> None:
    """dumps writes the fields as they are, not asdict's deep copy: the bytes are the same."""
    with_findings = [
        replace(
            s,
            findings=[Finding("PAUSE_AFTER_DUE", 1, 2, None, "supplement")],
            holders=[(1, "onestop", "Phòng A", None)],
            steps=[(1, 2, "Phòng A", "cb01", 2, None)],
            closed=(3, True),
            holder=("Phòng A", "cb01"),
        )
        for s in summaries[:5]
    ]
    assert any(s.alerts for s in summaries) and any(s.due for s in summaries)
    for s in [*summaries, *with_findings]:
        old = json.dumps(asdict(s), separators=(",", ":"), ensure_ascii=False).encode()
        assert s.dumps() == old


def test_a_summary_from_the_engines_timeline_is_the_same(summaries: list[Summary]) -> None:
    """The judge hands the evaluation's timeline to the summary rather than run the rules
    twice: the summary must not tell the difference."""
    for (code, evs), want in zip(_events().items(), summaries, strict=True):
        result = ENGINE.evaluate(code, evs, {}, END_TIME, END_TIME)
        assert result.facts is not None
        assert summarize(result.facts, CAL, 1, result.transitions) == want


def test_no_identity_numbers_in_summaries(summaries: list[Summary]) -> None:
    blob = b"".join(s.dumps() for s in summaries)
    assert b"SoGiayTo" not in blob and b"ChuHoSo" not in blob


def test_procedure_breakdown_adds_up(summaries: list[Summary]) -> None:
    rows = unit_stats(summaries, now=END_TIME, by_procedure=True)
    for row in rows:
        for key in COUNTERS:
            assert sum(p[key] for p in row["procedures"]) == row[key], (row["unit_code"], key)


def test_periods_partition_the_dossiers(summaries: list[Summary]) -> None:
    november = unit_stats(
        summaries,
        datetime.fromisoformat("2026-11-01T00:00+07:00"),
        datetime.fromisoformat("2026-12-01T00:00+07:00"),
        END_TIME,
    )
    december = unit_stats(
        summaries, datetime.fromisoformat("2026-12-01T00:00+07:00"), None, END_TIME
    )
    everything = {r["unit_code"]: r["received"] for r in expected_unit_stats()}
    split: dict[str, int] = {}
    for row in november + december:
        split[row["unit_code"]] = split.get(row["unit_code"], 0) + row["received"]
    assert split == everything
    # as of the end of November nothing received in November is judged with December's events
    assert all(r["received"] >= r["open_within_due"] + r["open_past_due"] for r in november)


def test_as_of_before_everything_is_empty(summaries: list[Summary]) -> None:
    assert unit_stats(summaries, now=END_TIME - timedelta(days=400)) == []
