"""connectors/_identity.py: an event's digested id is the sha256 of json.dumps of its identity
fields (sorted keys, ASCII, compact); the digest writes that text itself for plain values and
must give it to the byte, else every digested event id would change."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors._identity import _compact_json, _NotPlain, digest
from hub.domain.events import EventKind, Source


def reference(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


PLAIN = st.text() | st.integers() | st.booleans() | st.sampled_from(["", '"\\\n\t\u0000', "đ"])
NAMES = st.text(min_size=1, max_size=20)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(NAMES, PLAIN, max_size=12))
def test_the_text_is_json_dumps_to_the_byte(fields: dict[str, Any]) -> None:
    assert _compact_json(fields) == reference(fields)


@pytest.mark.parametrize("odd", [1.5, Decimal("2.50"), None, [1], {"a": 1}, Source.LAND])
def test_any_other_value_is_left_to_json_dumps(odd: Any) -> None:
    with pytest.raises(_NotPlain):
        _compact_json({"a": "x", "b": odd})


def old_digest(fields: dict[str, Any]) -> str:
    """The digest as written before the compact path: json.dumps over the canonical fields."""
    from connectors._identity import _DEFAULTS, NOT_IDENTITY, _canonical

    canon = {
        k: _canonical(v)
        for k, v in fields.items()
        if k not in NOT_IDENTITY and v is not None and v is not _DEFAULTS.get(k)
    }
    return hashlib.sha256(reference(canon).encode("ascii")).hexdigest()


TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.astimezone(timezone(timedelta(hours=7))))


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "source": st.sampled_from(list(Source)),
            "kind": st.sampled_from(list(EventKind)),
            "dossier_code": st.text(max_size=40),
            "status": st.none() | st.integers(1, 10),
            "first_sync": st.booleans(),
            "event_time": st.none() | TIMES,
            "holder_officer": st.none() | st.text(max_size=30),
            "note": st.none() | st.text(max_size=30),
            "with_result": st.none() | st.booleans(),
        }
    )
)
def test_digests_are_those_of_before(fields: dict[str, Any]) -> None:
    assert digest(fields) == old_digest(fields)


def test_a_known_digest() -> None:
    # pinned: a change here changes every digested event id in every stored state
    fields = {
        "source": Source.ONESTOP,
        "kind": EventKind.STEP,
        "dossier_code": "000.00.12.H49-261103-0001",
        "status": 4,
        "event_time": datetime(2026, 11, 3, 8, 30, tzinfo=timezone(timedelta(hours=7))),
        "holder_officer": "Nguyễn Văn A",
        "pause": False,
    }
    text = (
        '{"dossier_code":"000.00.12.H49-261103-0001","event_time":"2026-11-03T01:30:00.000000Z",'
        '"holder_officer":"Nguy\\u1ec5n V\\u0103n A","kind":"STEP","source":"onestop","status":4}'
    )
    assert digest(fields) == hashlib.sha256(text.encode()).hexdigest()


ZONED = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [
            UTC,
            timezone(timedelta(hours=7)),
            ZoneInfo("Asia/Ho_Chi_Minh"),
            ZoneInfo("America/New_York"),
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ZONED, min_size=1, max_size=6))
def test_times_in_any_zone_digest_as_before_however_often_seen(times: list[datetime]) -> None:
    # the digest keeps each time's text: a time seen before must give the text it gives afresh
    for t in [*times, *reversed(times)]:
        fields = {"source": Source.ONESTOP, "dossier_code": "X", "event_time": t}
        assert digest(fields) == old_digest(fields)


def test_one_wall_time_twice_in_a_zone_is_two_instants() -> None:
    first = datetime(2025, 11, 2, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    second = first.replace(fold=1)  # the hour the clocks went back: an hour later
    assert first == second  # as Python compares times of one zone
    for a, b in ((first, second), (second, first)):
        da, db = (digest({"dossier_code": "X", "event_time": t}) for t in (a, b))
        assert da != db
        assert da == old_digest({"dossier_code": "X", "event_time": a})
        assert db == old_digest({"dossier_code": "X", "event_time": b})
