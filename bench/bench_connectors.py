"""Decode throughput per connector over the contract's sample feed (tests/contract_samples/),
scaled up to ~20k messages.

Run as `python -m bench.bench_connectors`; prints messages/s, the median of 5 runs.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from connectors import SOURCES, Context
from hub.domain.calendar import WorkingCalendar
from hub.settings import DATA_DIR
from hub.simulate.cli import DEFAULT_SECURITY_CODE

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "contract_samples"
TARGET = 20_000
RUNS = 5


def messages(name: str) -> list[bytes]:
    lines = [line for line in (SAMPLES / name).read_bytes().split(b"\n") if line.strip()]
    return (lines * (TARGET // len(lines) + 1))[:TARGET]


def main() -> None:
    ctx = Context(
        calendar=WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv"),
        topic="bench",
        land_security_code=DEFAULT_SECURITY_CODE,
    )
    print(f"{'connector':<10}{'messages':>10}{'events':>10}{'msg/s (median of 5)':>22}")
    for spec in SOURCES.values():
        batch = messages(spec.sample)
        rates, events = [], 0
        for _ in range(RUNS):
            start = time.perf_counter()
            events = sum(len(spec.decode(raw, ctx).events) for raw in batch)
            rates.append(len(batch) / (time.perf_counter() - start))
        print(f"{spec.name:<10}{len(batch):>10}{events:>10}{statistics.median(rates):>22,.0f}")


if __name__ == "__main__":
    main()
