"""The expensive views computed once per clock tick (issue 13): a burst of identical requests
shares one computation instead of each walking every summary on the event loop.

A key names everything the answer depends on (the route and its parameters, the instant the
figures are judged at, the summary store's version), so a hit is always the answer a fresh
computation would give; an old key simply stops being asked for and ages out. Requests that
arrive while the first one is still computing wait for its result rather than starting their
own.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from hub.settings import ClockMode, Settings

T = TypeVar("T")


def tick_instant(t: datetime | None, settings: Settings) -> datetime | None:
    """`t` at the clock's resolution, for a cache key: under the wall clock "now" moves every
    instant, and figures judged a tick apart are what a tick-old cache shows anyway."""
    if t is None or settings.clock is not ClockMode.WALL:
        return t
    tick_ms = max(1, round(settings.tick_interval_s * 1000))
    at_ms = int(t.timestamp() * 1000) // tick_ms * tick_ms
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


class TickCache(Generic[T]):
    """At most `size` answers, least recently asked for dropped first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, asyncio.Future[T]] = OrderedDict()
        self.computed = 0  # how many times an answer was actually computed

    async def get(self, key: Hashable, compute: Callable[[], T | Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return await asyncio.shield(entry)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._entries[key] = future
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        try:
            self.computed += 1
            value = compute()
            result: T = await value if inspect.isawaitable(value) else value
        except BaseException as exc:
            # a failure is not remembered: the next request tries again
            if self._entries.get(key) is future:
                del self._entries[key]
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning if nobody waits
            else:
                future.cancel()
            raise
        future.set_result(result)
        return result
