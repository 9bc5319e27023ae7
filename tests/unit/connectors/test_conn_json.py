"""Strict JSON parsing and the field conventions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors._json import BadJson, WrongType, code, get, parse, text


def test_bom_allowed_and_folding_last_spelling_wins() -> None:
    doc = parse(b'\xef\xbb\xbf{"MaHoSo": "a", "mahoso": "b", "MAHOSO": "c", "X": 1}', fold=True)
    assert doc == {"mahoso": "c", "x": 1}
    assert parse(b'{"MaHoSo": "a", "maHoSo": "b", "MaHoSo": "c"}', fold=True) == {"mahoso": "c"}


def test_folding_is_ascii_only() -> None:
    assert parse('{"ĐƠN": 1}'.encode(), fold=True) == {"ĐƠn": 1}


def test_exact_names_without_folding() -> None:
    assert parse(b'{"eventId": "a", "EventId": "b"}', fold=False) == {
        "eventId": "a",
        "EventId": "b",
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": -Infinity}',
        b"{'a': 1}",
        b'{"a": 1,}',
        b"",
        b"\xff\xfe{}",
        b'{"a": "\xc3"}',
        b'{"a": "\\ud800"}',
        b'{"\\udc00": 1}',
        b'{"a": "x\x01"}',
        b"[" * 100000,
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
    ],
)
def test_not_json(raw: bytes) -> None:
    with pytest.raises(BadJson):
        parse(raw, fold=True)


def test_numbers_keep_their_text() -> None:
    doc = parse(b'{"a": 1.00, "b": 2.5e3, "c": 7}', fold=False)
    assert doc["a"] == Decimal("1.00") and text(doc, "a") == "1.00"
    assert text(doc, "c") == "7"
    assert parse(b"1" * 5000, fold=False) == Decimal("1" * 5000)


def test_absent_values() -> None:
    doc = {"a": "", "b": None, "c": "x", "d": [1], "e": {"k": 1}, "f": True}
    assert get(doc, "a") is None and get(doc, "b") is None and get(doc, "z") is None
    assert text(doc, "c") == "x" and text(doc, "d") is None and text(doc, "e") is None
    assert code(doc, "a", "a") is None
    with pytest.raises(WrongType):
        code(doc, "f", "f")
    with pytest.raises(WrongType):
        code({"n": 5}, "n", "n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.integers()), max_size=12))
def test_folding_is_the_same_however_often_a_key_was_met(pairs: list[tuple[str, int]]) -> None:
    # folded spellings are kept in a table that starts again when full (here: every 3 keys)
    import connectors._json as j

    raw = ("{" + ",".join(f"{json.dumps(k)}: {v}" for k, v in pairs) + "}").encode()
    want = {k.translate(j._LOWER): v for k, v in pairs}
    before = j._FOLDED_MAX
    j._FOLDED_MAX = 3
    try:
        assert parse(raw, fold=True) == want
        assert parse(raw, fold=True) == want
    finally:
        j._FOLDED_MAX = before


@pytest.mark.parametrize(
    "raw",
    [b"\xef\xbb\xbf\xef\xbb\xbf{}", b"", b"[1,", b'{"a": 1} x', b'{"a": "\\x"}', b"\xef\xbb\xbf"],
)
def test_refusals_say_what_json_loads_says(raw: bytes) -> None:
    # the decoders are made once, not by json.loads at each call: its checks and words are kept
    text = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text.decode(), parse_float=Decimal)
    with pytest.raises(BadJson) as refused:
        parse(raw, fold=True)
    assert str(refused.value) == f"not JSON: {expected.value}"
