"""hub/stream/batches.py: a batch carries the group membership its records were read in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hub.stream.batches import take_batch


class _Consumer:
    """getmany answers in turn; one may come back from a rebalance (a new generation)."""

    def __init__(self, answers: list[tuple[dict[str, list[int]], tuple[int, str]]]) -> None:
        self.answers = answers
        self._coordinator = SimpleNamespace(generation=2, member_id="m-old")

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[int]]:
        if not self.answers:
            return {}
        records, (generation, member) = self.answers.pop(0)
        # the group's state as this getmany returns
        self._coordinator.generation, self._coordinator.member_id = generation, member
        return records


async def test_the_batch_carries_the_membership_it_was_read_in() -> None:
    consumer: Any = _Consumer([({"p0": [10, 11]}, (2, "m-old")), ({"p1": [5]}, (2, "m-old"))])
    batches, member = await take_batch(consumer, batch_max=10, within_s=5.0)
    assert batches == {"p0": [10, 11], "p1": [5]} and member == (2, "m-old")


async def test_what_was_read_before_a_rebalance_is_dropped() -> None:
    """Records read in generation 2, then a rebalance while the batch is gathered: generation
    3 reassigns the partitions (to another worker, or to this one, which starts them again from
    their committed offsets). Stamped with generation 3, the earlier records would commit a
    second time; they are dropped, and the batch is generation 3's records only."""
    consumer: Any = _Consumer([({"p0": [10, 11]}, (2, "m-old")), ({"p1": [5]}, (3, "m-old"))])
    batches, member = await take_batch(consumer, batch_max=10, within_s=5.0)
    assert batches == {"p1": [5]} and member == (3, "m-old")

    # dropped from the group (stalled past its session), then back under a new member id
    consumer = _Consumer([({"p0": [10]}, (2, "m-old")), ({"p0": [7]}, (4, "m-new"))])
    batches, member = await take_batch(consumer, batch_max=10, within_s=5.0)
    assert batches == {"p0": [7]} and member == (4, "m-new")

    # the rebalance gave nothing yet: nothing to commit
    consumer = _Consumer([({"p0": [10]}, (2, "m-old")), ({}, (5, "m-old"))])
    assert await take_batch(consumer, batch_max=10, within_s=5.0) == ({}, (5, "m-old"))


async def test_records_read_out_of_the_group_have_no_membership() -> None:
    consumer: Any = _Consumer([({"p0": [10]}, (-1, ""))])
    batches, member = await take_batch(consumer, batch_max=10, within_s=0.2)
    assert batches == {"p0": [10]} and member is None
