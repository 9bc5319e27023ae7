"""Decode throughput per connector over the shared samples, scaled up to ~20k messages.

Run as `python bench/bench_connectors.py`; prints messages/s, the median of 5 runs.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors import CONNECTORS, Context  # noqa: E402
from hub.domain.calendar import WorkingCalendar  # noqa: E402
from hub.settings import DATA_DIR  # noqa: E402

SAMPLES = (ROOT / ".." / "shared" / "contracts" / "samples").resolve()
FILES = {
    "onestop": "onestop.jsonl",
    "land": "land.jsonl",
    "tax": "tax.jsonl",
    "civil": "civil.xmll",
}
TARGET = 20_000
RUNS = 5


def messages(name: str) -> list[bytes]:
    lines = [line for line in (SAMPLES / name).read_bytes().split(b"\n") if line.strip()]
    return (lines * (TARGET // len(lines) + 1))[:TARGET]


def main() -> None:
    ctx = Context(
        calendar=WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv"),
        topic="bench",
        land_security_code="QNAM-VBDLIS-7f3a9c",
    )
    print(f"{'connector':<10}{'messages':>10}{'events':>10}{'msg/s (median of 5)':>22}")
    for source, name in FILES.items():
        decode = CONNECTORS[source]
        batch = messages(name)
        rates, events = [], 0
        for _ in range(RUNS):
            start = time.perf_counter()
            events = sum(len(decode(raw, ctx).events) for raw in batch)
            rates.append(len(batch) / (time.perf_counter() - start))
        print(f"{source:<10}{len(batch):>10}{events:>10}{statistics.median(rates):>22,.0f}")


if __name__ == "__main__":
    main()
