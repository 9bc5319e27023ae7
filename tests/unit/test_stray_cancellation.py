"""A CancelledError nobody sent to a stage's task restarts the stage; a real cancel stops it.

aiokafka's `consumer.stop()` can raise CancelledError into a task nobody cancelled (its fetcher
awaits the requests it has just cancelled, aio-libs/aiokafka#647). In a CI run the broker
restarted as the judge committed; its loop stopped its consumer, took that error for a stop
and ended, and the worker went on without a judge. The broker side is in
tests/integration/test_consumer_stop.py; here, the loops' own rule, `restartable`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from hub.domain.calendar import TZ
from hub.kafka_client import cancelled_here, restartable
from hub.metrics import HubMetrics
from hub.settings import Settings
from hub.stream import intake as intake_module
from hub.stream import judging as judging_module
from hub.stream.intake import Intake
from hub.stream.judging import JudgeLoop
from hub.stream.publisher import SummaryPublisher
from hub.stream.table import DossierTable
from hub.testing import dict_judge


def _clock() -> datetime:
    return datetime(2026, 11, 3, 9, 0, tzinfo=TZ)


def _intake(cfg: Settings) -> Intake:
    judge = dict_judge(cfg)
    return Intake(cfg, judge.engine.calendar, _clock, HubMetrics())


def _judging(cfg: Settings) -> JudgeLoop:
    table = DossierTable()
    judge = dict_judge(cfg, clock=_clock)
    publisher = SummaryPublisher(judge.engine.calendar, cfg.grace_working_days)
    return JudgeLoop(cfg, _clock, judge, table, publisher, HubMetrics())


async def _runs(loop: Any, monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    """The loop's first run ends in a stray CancelledError, its second waits: the loop must
    start it again, and end when its task is cancelled."""
    monkeypatch.setattr(module, "RESTART_AFTER_S", 0.0)
    runs: list[int] = []
    second = asyncio.Event()

    async def run_once() -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 1:
            raise asyncio.CancelledError()  # as aiokafka's stop() lets one out
        second.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(loop, "_run_once", run_once)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(second.wait(), 5.0)
    assert runs == [1, 2]
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert runs == [1, 2]


async def test_the_intake_starts_again_after_a_stray_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _runs(_intake(Settings()), monkeypatch, intake_module)


async def test_the_judge_starts_again_after_a_stray_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _runs(_judging(Settings()), monkeypatch, judging_module)


async def test_a_cancel_of_the_task_is_not_restartable() -> None:
    seen: list[tuple[bool, bool]] = []
    entered = asyncio.Event()

    async def waits() -> None:
        try:
            entered.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            seen.append((cancelled_here(), restartable(exc)))
            raise

    task = asyncio.create_task(waits())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [(True, False)]


async def test_a_cancellation_raised_in_an_uncancelled_task_is_restartable() -> None:
    async def stray() -> tuple[bool, bool]:
        inner = asyncio.create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        inner.cancel()
        try:
            await inner  # what aiokafka's fetcher does on close
        except asyncio.CancelledError as exc:
            return cancelled_here(), restartable(exc)
        raise AssertionError("awaiting a cancelled task raised nothing")

    assert await stray() == (False, True)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(RuntimeError("broker away"), True), (KeyboardInterrupt(), False), (SystemExit(1), False)],
)
def test_errors_restart_and_exits_do_not(exc: BaseException, expected: bool) -> None:
    assert restartable(exc) is expected
