"""Judgements over every summary, in bounded memory and off the event loop.

The summary map decodes on demand (hub/stream/summaries.py); a province holds up to a million
summaries, so a view that listed them all first would hold gigabytes. Here the event loop reads
them a chunk at a time (the stages run between two chunks: the map is theirs to write) and hands
each chunk to every judgement, each in a thread of its own, where it consumes them one by one (a
single pass: hub.domain.responsibility, hub.domain.audit, the report's parts in
hub.reports.tables). Several judgements share one read: decoding is the costly part. The reading
keeps to the pace of the slowest judgement and the judgements share the chunks, so at most a few
chunks are held at any time, however many judgements there are.

A judgement that returns early is fed no more, and the reading stops once none wants more. One
that fails stops the reading for all (the answer is its failure): the others are handed the end
of the values, and once every thread has returned the first failure, in the judgements' order,
is raised.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 2000  # items read on the loop between two yields to it
_AHEAD = 2  # chunks waiting for a judgement's thread at most


class _Feed(Generic[T]):
    """One judgement: the queue of chunks its thread reads, and whether it still reads."""

    def __init__(self, judge: Callable[[Iterable[T]], Any]) -> None:
        self.judge = judge
        self.chunks: queue.Queue[list[T] | None] = queue.Queue(maxsize=_AHEAD)
        self.done = threading.Event()  # it returned or failed: feed it no more
        self.failed = False

    def items(self) -> Iterator[T]:
        while (chunk := self.chunks.get()) is not None:
            yield from chunk

    def run(self) -> Any:  # in its thread
        try:
            return self.judge(self.items())
        except BaseException:
            self.failed = True  # before `done`: whoever sees it done sees whether it failed
            raise
        finally:
            self.done.set()

    async def hand(self, chunk: list[T] | None) -> None:
        while not self.done.is_set():
            try:
                self.chunks.put_nowait(chunk)
                return
            except queue.Full:  # the judgement is behind: the reading waits for it
                await asyncio.sleep(0.002)


def _chunks(values: Iterable[T]) -> Iterator[list[T]]:
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def judge_streamed_all(
    values: Iterable[T], judges: Sequence[Callable[[Iterable[T]], Any]]
) -> list[Any]:
    """`[judge(values) for judge in judges]`, each judge in a thread of its own, `values` read
    once, on the event loop, a chunk at a time."""
    feeds = [_Feed(judge) for judge in judges]
    loop = asyncio.get_running_loop()
    results = [loop.run_in_executor(None, feed.run) for feed in feeds]
    try:
        for chunk in _chunks(values):
            for feed in feeds:
                await feed.hand(chunk)
            if all(f.done.is_set() for f in feeds) or any(f.failed for f in feeds):
                break
            await asyncio.sleep(0)  # the stages run between two chunks, even if none waited
    finally:
        for feed in feeds:
            await feed.hand(None)  # the end of the values: each judgement completes
    outcomes = await asyncio.gather(*results, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


async def judge_streamed(values: Iterable[T], judge: Callable[[Iterable[T]], R]) -> R:
    """`judge(values)` in a thread, `values` read on the event loop a chunk at a time."""
    (result,) = await judge_streamed_all(values, [judge])
    return cast(R, result)
