"""Every sample line decodes, or dead-letters exactly as expected_deadletters.jsonl says.

Table-driven from the files: a new sample line needs no code change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors import CONNECTORS
from tests.unit.connectors.connector_ctx import SECURITY_CODE, make_ctx

SAMPLES = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "contracts" / "samples"
).resolve()
FILES = {
    "onestop": "onestop.jsonl",
    "land": "land.jsonl",
    "tax": "tax.jsonl",
    "civil": "civil.xmll",
}


def _lines() -> list[tuple[str, int, bytes]]:
    if not SAMPLES.is_dir():
        return []
    rows = []
    for source, name in FILES.items():
        for number, line in enumerate((SAMPLES / name).read_bytes().split(b"\n"), start=1):
            if line.strip():
                rows.append((source, number, line.rstrip(b"\r")))
    return rows


def _expected() -> dict[tuple[str, int], list[tuple[str, int | None]]]:
    expected: dict[tuple[str, int], list[tuple[str, int | None]]] = {}
    path = SAMPLES / "expected_deadletters.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                key = (row["source"], row["line"])
                expected.setdefault(key, []).append((row["reason"], row["item"]))
    return expected


def _order(row: tuple[str, int | None]) -> tuple[str, int]:
    return row[0], -1 if row[1] is None else row[1]


LINES = _lines()
EXPECTED = _expected()


@pytest.mark.skipif(not LINES, reason="shared samples not present")
@pytest.mark.parametrize(("source", "number", "raw"), LINES, ids=[f"{s}:{n}" for s, n, _ in LINES])
def test_sample_line(source: str, number: int, raw: bytes) -> None:
    ctx = make_ctx(land_security_code=SECURITY_CODE, max_message_bytes=524288)
    out = CONNECTORS[source](raw, ctx)
    got = sorted(((r.reason.value, r.item) for r in out.rejections), key=_order)
    want = sorted(EXPECTED.get((source, number), []), key=_order)
    assert got == want
    if not want:
        assert out.events or out.informational, "a valid line must produce an event"
    for r in out.rejections:
        assert r.message


def test_every_expected_dead_letter_is_a_sample_line() -> None:
    keys = {(s, n) for s, n, _ in LINES}
    assert set(EXPECTED) <= keys
