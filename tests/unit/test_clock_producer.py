"""The worker's clock ticks go on after a failure: with the same producer while it can still
send, with a new one once aiokafka has ended its sender (it never sends again then, and every
partition's event clock would stop). The producer here is a stand-in with a sender task: what
is tested is the loop's choice, not Kafka (the broker restart is in tests/integration/
test_faults.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from hub.service import Service
from hub.settings import Settings
from hub.stream import app as app_module


class _Producer:
    made: ClassVar[list[_Producer]] = []

    def __init__(self, **options: Any) -> None:
        self.stopped = False
        self._sender = SimpleNamespace(sender_task=None)
        _Producer.made.append(self)

    async def start(self) -> None:
        self._sender.sender_task = asyncio.ensure_future(asyncio.Event().wait())

    async def stop(self) -> None:
        self.stopped = True
        self._sender.sender_task.cancel()

    def kill_sender(self) -> None:
        self._sender.sender_task.cancel()


async def _ticks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill: bool) -> list[Any]:
    """The producers of three ticks, the first of which fails (its sender killed or not)."""
    _Producer.made = []
    monkeypatch.setattr(app_module, "AIOKafkaProducer", _Producer)
    service = Service(Settings(tick_interval_s=0.01, data_dir=tmp_path))
    used: list[Any] = []
    three = asyncio.Event()

    async def tick(producer: Any) -> None:
        used.append(producer)
        if len(used) == 1:
            if kill:
                producer.kill_sender()
                await asyncio.sleep(0)
            raise RuntimeError("the broker restarted in a send")
        if len(used) == 3:
            three.set()

    monkeypatch.setattr(service.stream, "_tick", tick)
    task = asyncio.create_task(service.stream._run_ticks())
    await asyncio.wait_for(three.wait(), 5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return used[:3]


async def test_a_producer_whose_sender_died_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = await _ticks(tmp_path, monkeypatch, kill=True)
    assert second is not first and third is second
    assert first.stopped
    assert _Producer.made == [first, second]
    assert second.stopped  # at the loop's end


async def test_a_failed_tick_keeps_a_producer_that_can_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = await _ticks(tmp_path, monkeypatch, kill=False)
    assert first is second is third
    assert _Producer.made == [first]
