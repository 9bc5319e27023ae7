"""The contract every registered connector must pass, parametrized over `connectors.SOURCES`.

A source added to the registry is held to all of it with no change here: its sample lines decode
(or dead-letter exactly as expected_deadletters.jsonl says), and no input, arbitrary or derived
from its sample file, makes it raise, answer INTERNAL or emit another source's events. The
properties of one source's own format live beside its other tests (e.g. test_conn_civil.py).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import (
    CONNECTORS,
    SOURCE_OF_TOPIC,
    SOURCES,
    Context,
    Decoded,
    Reason,
    SourceSpec,
)
from hub.domain.events import Source
from tests.samples import SAMPLES
from tests.unit.connectors.connector_ctx import SECURITY_CODE, make_ctx
from tests.unit.connectors.contract import (
    CTX,
    JSON_VALUES,
    check,
    json_seeds,
    mutate_bytes,
    mutate_json,
    sample_lines,
    seeds,
)

SPECS = list(SOURCES.values())
each_source = pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
# a JSON-shaped mutation means nothing to a source whose sample feed holds no JSON message
each_json_source = pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            spec,
            id=spec.name,
            marks=()
            if json_seeds(spec)
            else pytest.mark.skip(reason=f"no line of {spec.sample} is JSON"),
        )
        for spec in SPECS
    ],
)
# Budgets per source, small to keep the unit suite quick. The properties that once drew their
# source at random keep at least their old totals (arbitrary bytes 300 and mutated lines 400 over
# four sources, mutated JSON 500 over three); the later ones get FEW.
FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USUAL = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=170, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROVENANCE = st.builds(
    make_ctx,
    topic=st.text(max_size=20),
    partition=st.integers(0, 1 << 31),
    offset=st.integers(0, 1 << 62),
)


def sample_or_mutant(spec: SourceSpec, data: st.DataObject) -> bytes:
    raw = data.draw(st.sampled_from(seeds(spec)), label="seed")
    if data.draw(st.booleans(), label="mutate"):
        raw = mutate_bytes(raw, data)
    return raw


# --- the registry -------------------------------------------------------------------------------


def test_every_source_is_registered_under_its_own_key() -> None:
    assert set(SOURCES) == set(Source)
    assert all(key is spec.source for key, spec in SOURCES.items())


def test_topics_and_sample_files_are_distinct() -> None:
    for what, values in (
        ("topic", [spec.topic for spec in SPECS]),
        ("sample", [spec.sample for spec in SPECS]),
    ):
        twice = [value for value, n in Counter(values).items() if n > 1]
        assert not twice, f"{what} registered for more than one source: {twice}"


def test_the_views_follow_the_registry() -> None:
    assert {spec.name: spec.decode for spec in SPECS} == CONNECTORS
    assert {spec.topic: spec.source for spec in SPECS} == SOURCE_OF_TOPIC


@each_source
def test_its_sample_file_is_in_the_copy_of_the_contract(spec: SourceSpec) -> None:
    assert (SAMPLES / spec.sample).is_file(), f"{spec.sample} is not in {SAMPLES}"
    assert seeds(spec), f"{spec.sample} holds no line to start the properties from"


def test_the_schedule_feeds_exactly_the_registered_sources() -> None:
    rows = (SAMPLES / "schedule.jsonl").read_text(encoding="utf-8").splitlines()
    scheduled = {json.loads(row)["source"] for row in rows if row.strip()}
    assert scheduled == {spec.name for spec in SPECS}


# --- the sample feed ----------------------------------------------------------------------------


def _expected_dead_letters() -> dict[tuple[str, int], list[tuple[str, int | None]]]:
    expected: dict[tuple[str, int], list[tuple[str, int | None]]] = {}
    text = (SAMPLES / "expected_deadletters.jsonl").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip():
            row = json.loads(line)
            expected.setdefault((row["source"], row["line"]), []).append(
                (row["reason"], row["item"])
            )
    return expected


def _order(row: tuple[str, int | None]) -> tuple[str, int]:
    return row[0], -1 if row[1] is None else row[1]


LINES = [(spec, number, raw) for spec in SPECS for number, raw in sample_lines(spec)]
EXPECTED = _expected_dead_letters()


@pytest.mark.parametrize(
    ("spec", "number", "raw"), LINES, ids=[f"{spec.name}:{n}" for spec, n, _ in LINES]
)
def test_sample_line(spec: SourceSpec, number: int, raw: bytes) -> None:
    """Table-driven from the files: a new sample line, or a new source, needs no code here."""
    ctx = make_ctx(land_security_code=SECURITY_CODE, max_message_bytes=524288)
    out = spec.decode(raw, ctx)
    check(out, spec, ctx)
    got = sorted(((r.reason.value, r.item) for r in out.rejections), key=_order)
    want = sorted(EXPECTED.get((spec.name, number), []), key=_order)
    assert got == want
    if not want:
        assert out.events or out.informational, "a valid line must produce an event"


def test_every_expected_dead_letter_is_a_sample_line() -> None:
    keys = {(spec.name, n) for spec, n, _ in LINES}
    assert set(EXPECTED) <= keys


# --- any input ----------------------------------------------------------------------------------


@each_source
@USUAL
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes(spec: SourceSpec, raw: bytes) -> None:
    check(spec.decode(raw, CTX), spec)


@each_source
@USUAL
@given(data=st.data())
def test_mutated_sample_lines(spec: SourceSpec, data: st.DataObject) -> None:
    raw = mutate_bytes(data.draw(st.sampled_from(seeds(spec))), data)
    check(spec.decode(raw, CTX), spec)


@each_source
@FEW
@given(data=st.data())
def test_truncated_sample_lines(spec: SourceSpec, data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(seeds(spec)))
    check(spec.decode(raw[: data.draw(st.integers(0, len(raw) - 1))], CTX), spec)


@each_source
@FEW
@given(value=JSON_VALUES)
def test_arbitrary_json_values(spec: SourceSpec, value: object) -> None:
    check(spec.decode(json.dumps(value).encode(), CTX), spec)


@each_json_source
@SOME
@given(data=st.data())
def test_mutated_json_fields(spec: SourceSpec, data: st.DataObject) -> None:
    value = data.draw(st.sampled_from(json_seeds(spec)))
    for _ in range(data.draw(st.integers(1, 3))):
        value = mutate_json(value, data)
    check(spec.decode(json.dumps(value).encode(), CTX), spec)


@each_source
@FEW
@given(data=st.data())
def test_decoding_is_deterministic(spec: SourceSpec, data: st.DataObject) -> None:
    raw = sample_or_mutant(spec, data)
    assert spec.decode(raw, CTX) == spec.decode(raw, CTX)


PROVENANCE_FIELDS = {"source_topic", "source_partition", "source_offset"}


def _without_provenance(out: Decoded) -> tuple[object, ...]:
    events = [ev.model_dump(exclude=PROVENANCE_FIELDS) for ev in out.events]
    return events, out.rejections, out.informational


@each_source
@FEW
@given(data=st.data(), first=PROVENANCE, second=PROVENANCE)
def test_provenance_never_enters_the_outcome(
    spec: SourceSpec, data: st.DataObject, first: Context, second: Context
) -> None:
    """A redelivery (another topic, partition or offset) has the same event ids, the same events
    but for their provenance, and the same rejections."""
    raw = sample_or_mutant(spec, data)
    a, b = spec.decode(raw, first), spec.decode(raw, second)
    check(a, spec, first)
    check(b, spec, second)
    assert [e.event_id for e in a.events] == [e.event_id for e in b.events]
    assert _without_provenance(a) == _without_provenance(b)


@each_source
def test_redelivery_of_any_sample_line_has_the_same_ids(spec: SourceSpec) -> None:
    for _, raw in sample_lines(spec):
        a = spec.decode(raw, make_ctx(offset=1, partition=0))
        b = spec.decode(raw, make_ctx(offset=99, partition=4, topic="other"))
        assert [e.event_id for e in a.events] == [e.event_id for e in b.events]


@each_source
@FEW
@given(data=st.data())
def test_oversize_is_rejected_before_decoding(spec: SourceSpec, data: st.DataObject) -> None:
    """Over the limit, whatever the bytes (a valid line too), one whole-message TOO_LARGE and
    nothing else; at the limit, the message is decoded as if there were none."""
    raw = data.draw(st.sampled_from(seeds(spec)) | st.binary(min_size=1, max_size=400))
    over = spec.decode(raw, replace(CTX, max_message_bytes=data.draw(st.integers(0, len(raw) - 1))))
    assert over.events == [] and over.informational == 0
    assert [(r.reason, r.item) for r in over.rejections] == [(Reason.TOO_LARGE, None)]
    check(over, spec)
    assert spec.decode(raw, replace(CTX, max_message_bytes=len(raw))) == spec.decode(raw, CTX)
