"""The judge's deadline index holds at most MOTCUA_WAKE_INDEX_MAX entries per partition (the
earliest), and rescans the partition's states when the clock passes the last one held: the same
alerts as an index holding everything, on a dict table and on the worker's DossierTable (writes
in an overlay committed per batch), with an index that does not grow with the dossiers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from hub.domain.alerts import Alert
from hub.settings import ClockMode, Settings
from hub.stream.judge import Judge
from hub.stream.state import peek
from hub.stream.table import DossierTable, MemoryStore
from tests.samples import FILES, expected_keys
from tests.unit.test_judge import ENGINE, FIXED, PER_SOURCE, interleaving, kept


def _judge(held: int, table: DossierTable | None = None) -> Judge:
    cfg = Settings(clock=ClockMode.EVENT)
    # below the setting's floor (100), so that the sample feed's few dossiers overflow it
    cfg = cfg.model_copy(update={"wake_index_max": held})
    if table is None:
        return Judge(cfg, ENGINE, lambda: FIXED, {})
    return Judge(cfg, ENGINE, lambda: FIXED, table, writer=table.write)


# the largest index each judge held, by id (a compiled Judge takes no attribute of a test's)
LARGEST: dict[int, int] = {}


def _feed(judge: Judge, order: Iterator[str], table: DossierTable | None = None) -> list[Alert]:
    """As tests.unit.test_judge.feed, committing the table after each record (a batch each),
    and noting the largest index the judge held."""
    positions = dict.fromkeys(FILES, 0)
    highs: dict[str, int | None] = dict.fromkeys(FILES)
    alerts: list[Alert] = []
    LARGEST[id(judge)] = 0

    def batch_done() -> None:
        judge.flush()
        if table is not None:
            table.commit({0: 0})
        size = sum(len(h) for h in judge._heaps.values())
        LARGEST[id(judge)] = max(LARGEST[id(judge)], size)

    for src in order:
        key, blob, ms = PER_SOURCE[src][positions[src]]
        positions[src] += 1
        alerts += judge.on_event(0, key, blob)
        batch_done()
        if ms is not None and (highs[src] is None or ms > highs[src]):  # type: ignore[operator]
            highs[src] = ms
        marks = {f"{s}:0": [h, False] for s, h in highs.items()}
        alerts += judge.on_clock(0, json.dumps({"wall": 0, "marks": marks}).encode())
        batch_done()
    end = {f"{s}:0": [h, True] for s, h in highs.items()}
    alerts += judge.on_clock(0, json.dumps({"wall": 0, "marks": end}).encode())
    batch_done()
    return alerts


def _wakes(judge: Judge) -> int:
    table = judge.table
    items = table.scan(0) if isinstance(table, DossierTable) else table.items()
    return sum(1 for k, v in items if not k.startswith(b"\x00") and peek(v)[1] is not None)


def test_a_small_index_gives_the_same_alerts_in_order() -> None:
    order = [src for src in FILES for _ in PER_SOURCE[src]]
    whole = _feed(_judge(1_000_000), iter(order))
    small = _judge(2)
    bounded = _feed(small, iter(order))
    assert kept(bounded) == expected_keys()
    assert [(a.alert_id, a.state) for a in bounded] == [(a.alert_id, a.state) for a in whole]
    assert LARGEST[id(small)] < _wakes(small)


def test_a_small_index_over_the_overlay_table_in_any_order() -> None:
    for seed in (1, 2, 3):
        table = DossierTable(MemoryStore())
        table.active = {0}
        reference = _feed(_judge(1_000_000), interleaving(random.Random(seed)))
        judge = _judge(3, table)
        alerts = _feed(judge, interleaving(random.Random(seed)), table)
        assert kept(alerts) == kept(reference)
        assert sorted((a.alert_id, a.state.value) for a in alerts) == sorted(
            (a.alert_id, a.state.value) for a in reference
        )
        assert table.overlay == {}  # every batch committed
        assert LARGEST[id(judge)] < _wakes(judge)
