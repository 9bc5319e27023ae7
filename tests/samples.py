"""The contract's sample feed (copied into tests/contract_samples/), in its schedule's order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from connectors import SOURCES

# a byte-identical copy of ../shared/contracts/samples (tests/test_contract_copy.py checks it)
SAMPLES = Path(__file__).resolve().parent / "contract_samples"
FILES = {spec.name: spec.sample for spec in SOURCES.values()}
TOPICS = {spec.name: spec.topic for spec in SOURCES.values()}
SECURITY_CODE = "QNAM-VBDLIS-7f3a9c"
END_TIME = datetime.fromisoformat("2026-12-06T17:59:00+07:00")


@dataclass(frozen=True)
class Line:
    source: str
    line: int  # 1-based
    raw: bytes
    sent_at: datetime


def lines(source: str) -> list[bytes]:
    data = (SAMPLES / FILES[source]).read_bytes()
    return [ln for ln in data.split(b"\n") if ln]


def scheduled() -> Iterator[Line]:
    """Every sample line, in `sent_at` order."""
    raw = {s: lines(s) for s in FILES}
    for text in (SAMPLES / "schedule.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(text)
        src, n = row["source"], int(row["line"])
        yield Line(src, n, raw[src][n - 1], datetime.fromisoformat(row["sent_at"]))


def expected_alerts() -> list[dict[str, object]]:
    text = (SAMPLES / "expected_alerts.jsonl").read_text(encoding="utf-8")
    return [json.loads(t) for t in text.splitlines() if t.strip()]


def expected_deadletters() -> list[dict[str, object]]:
    text = (SAMPLES / "expected_deadletters.jsonl").read_text(encoding="utf-8")
    return [json.loads(t) for t in text.splitlines() if t.strip()]


def expected_unit_stats() -> list[dict[str, object]]:
    data: list[dict[str, object]] = json.loads(
        (SAMPLES / "expected_unit_stats.json").read_text(encoding="utf-8")
    )
    return data


AlertKey = tuple[str, str, str, datetime]


def expected_keys() -> list[AlertKey]:
    """The expected transitions as (type, state, dossier, condition_at), sorted."""
    return sorted(
        (
            str(a["type"]),
            str(a["state"]),
            str(a["dossier_code"]),
            datetime.fromisoformat(str(a["condition_at"])),
        )
        for a in expected_alerts()
    )
