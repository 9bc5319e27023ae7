"""hub/web/streamed.py: a judgement over every summary in a thread, fed a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from hub.web import streamed


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

    def judge(items: Iterable[int]) -> int:
        for i in items:
            if i == 10:
                raise ValueError("a bad summary")
        return 0

    with pytest.raises(ValueError, match="a bad summary"):
        await streamed.judge_streamed(source(), judge)
    assert produced < streamed.CHUNK * 10
