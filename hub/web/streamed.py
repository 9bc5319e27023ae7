"""A judgement over every summary, in bounded memory and off the event loop.

The summary map decodes on demand (hub/stream/summaries.py); a province holds up to a million
summaries, so a view that listed them all first would hold gigabytes. Here the event loop reads
them a chunk at a time (the stages run between two chunks: the map is theirs to write) and hands
each chunk to a thread, where the judgement (a single pass: hub.domain.responsibility,
hub.domain.audit) consumes them one by one; at most a few chunks are held at any time.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNK = 2000  # items read on the loop between two yields to it
_AHEAD = 2  # chunks waiting for the thread at most


async def judge_streamed(values: Iterable[T], judge: Callable[[Iterable[T]], R]) -> R:
    """`judge(values)` in a thread, `values` read on the event loop a chunk at a time."""
    chunks: queue.Queue[list[T] | None] = queue.Queue(maxsize=_AHEAD)
    done = threading.Event()

    def items() -> Iterator[T]:
        while (chunk := chunks.get()) is not None:
            yield from chunk

    def run() -> R:
        try:
            return judge(items())
        finally:
            done.set()  # the reader stops feeding a judgement that ended (or failed) early

    async def hand(chunk: list[T] | None) -> bool:
        while not done.is_set():
            try:
                chunks.put_nowait(chunk)
                return True
            except queue.Full:
                await asyncio.sleep(0.002)
        return False

    result = asyncio.get_running_loop().run_in_executor(None, run)
    chunk: list[T] = []
    try:
        for value in values:
            chunk.append(value)
            if len(chunk) >= CHUNK:
                if not await hand(chunk):
                    break
                chunk = []
        if chunk:
            await hand(chunk)
    finally:
        await hand(None)  # the end of the values: the judgement completes
    return await result
