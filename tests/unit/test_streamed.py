"""hub/web/streamed.py: judgements over every summary, each in a thread, fed a chunk at a time
from one read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator

import pytest

from hub.web import streamed


def _fails_at_ten(items: Iterable[int]) -> int:
    """A judgement that fails on the value 10 (a bad summary)."""
    for i in items:
        if i == 10:
            raise ValueError("a bad summary")
    return 0


async def test_the_judgement_sees_every_value_once_in_order() -> None:
    values = list(range(streamed.CHUNK * 3 + 17))
    assert await streamed.judge_streamed(values, list) == values
    assert await streamed.judge_streamed([], list) == []


async def test_memory_is_bounded_by_a_few_chunks() -> None:
    produced = consumed = ahead = 0

    def source() -> Iterator[int]:
        nonlocal produced, ahead
        for i in range(streamed.CHUNK * 20):
            produced += 1
            ahead = max(ahead, produced - consumed)
            yield i

    def judge(items: Iterable[int]) -> int:
        nonlocal consumed
        total = 0
        for i in items:
            consumed += 1
            total += i
        return total

    n = streamed.CHUNK * 20
    assert await streamed.judge_streamed(source(), judge) == n * (n - 1) // 2
    assert ahead <= (streamed._AHEAD + 2) * streamed.CHUNK  # never the whole province


async def test_a_failing_judgement_stops_the_reading_and_raises() -> None:
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        for i in range(streamed.CHUNK * 50):
            produced += 1
            yield i

    with pytest.raises(ValueError, match="a bad summary"):
        await streamed.judge_streamed(source(), _fails_at_ten)
    assert produced < streamed.CHUNK * 10


# several judgements over one read


def first(items: Iterable[int]) -> int:
    return next(iter(items))


async def test_every_judgement_sees_every_value_once_in_order() -> None:
    values = list(range(streamed.CHUNK * 3 + 17))
    reads = 0

    def source() -> Iterator[int]:
        nonlocal reads
        reads += 1
        yield from values

    assert await streamed.judge_streamed_all(source(), [list, sum, list]) == [
        values,
        sum(values),
        values,
    ]
    assert reads == 1
    nothing: list[int] = []
    assert await streamed.judge_streamed_all(nothing, [list, sum]) == [[], 0]
    assert await streamed.judge_streamed_all(values, []) == []


async def test_memory_is_bounded_by_a_few_chunks_for_all_judgements() -> None:
    n = streamed.CHUNK * 20
    produced = ahead = 0
    consumed = [0, 0, 0]

    def source() -> Iterator[int]:
        nonlocal produced, ahead
        for i in range(n):
            produced += 1
            ahead = max(ahead, produced - min(consumed))  # behind the slowest judgement
            yield i

    def judge(k: int, pause: float) -> Callable[[Iterable[int]], int]:
        def total(items: Iterable[int]) -> int:
            out = 0
            for i in items:
                consumed[k] += 1
                out += i
                if pause and i % 500 == 0:
                    time.sleep(pause)  # a slow judgement: the reading waits for it
            return out

        return total

    got = await streamed.judge_streamed_all(source(), [judge(0, 0), judge(1, 0.001), judge(2, 0)])
    assert got == [n * (n - 1) // 2] * 3
    # the chunks are shared: a few of them in all, not a few per judgement
    assert ahead <= (streamed._AHEAD + 2) * streamed.CHUNK


async def test_a_judgement_that_returns_early_is_fed_no_more() -> None:
    values = list(range(streamed.CHUNK * 5))
    assert await streamed.judge_streamed_all(values, [first, list]) == [0, values]
    produced = 0

    def source() -> Iterator[int]:
        nonlocal produced
        for i in range(streamed.CHUNK * 50):
            produced += 1
            yield i

    # the reading stops once no judgement wants more
    assert await streamed.judge_streamed_all(source(), [first, first]) == [0, 0]
    assert produced < streamed.CHUNK * 10


async def test_a_failing_judgement_stops_the_reading_for_all_and_raises() -> None:
    produced = 0
    others: list[int] = []  # what the judgement that does not fail saw, once it returned

    def source() -> Iterator[int]:
        nonlocal produced
        for i in range(streamed.CHUNK * 50):
            produced += 1
            yield i

    def count(items: Iterable[int]) -> int:
        n = sum(1 for _ in items)
        others.append(n)
        return n

    with pytest.raises(ValueError, match="a bad summary"):
        await streamed.judge_streamed_all(source(), [count, _fails_at_ten])
    assert produced < streamed.CHUNK * 10
    # the other judgement was handed the end of the values, and had returned before the raise
    assert len(others) == 1 and others[0] < streamed.CHUNK * 10


async def test_of_several_failures_the_first_in_the_judgements_order_is_raised() -> None:
    def fails_at_the_end(items: Iterable[int]) -> int:
        for _ in items:
            pass
        raise ValueError("the first judgement")

    def fails_at_once(items: Iterable[int]) -> int:
        next(iter(items))
        raise KeyError("the second judgement")

    values = range(streamed.CHUNK * 50)
    # the second fails first; the reading stops, the first then fails too: its failure is raised
    with pytest.raises(ValueError, match="the first judgement"):
        await streamed.judge_streamed_all(values, [fails_at_the_end, fails_at_once])


async def test_the_loop_runs_between_chunks() -> None:
    read = 0
    turns: list[int] = []

    async def other_task() -> None:  # the judge, say: runs while the values are read
        while True:
            turns.append(read)
            await asyncio.sleep(0)

    def source() -> Iterator[int]:
        nonlocal read
        for i in range(streamed.CHUNK * 10):
            read += 1
            yield i

    task = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    try:
        # judgements that keep up: the reading never waits for them, and yields all the same
        await streamed.judge_streamed_all(source(), [sum, sum])
    finally:
        task.cancel()
    assert any(0 < n < streamed.CHUNK * 10 for n in turns), turns
