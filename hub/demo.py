"""`motcua-hub demo`: the one-command local run.

The local broker (started unless one already runs), the hub's topics, one worker (a
`motcua-hub worker` subprocess) and a simulated province publishing from this process, all under
one *warped* wall clock: simulated time starts at 06:00 on the feed's first day and runs `--speed`
times as fast as the wall clock. The worker gets the same clock through MOTCUA_CLOCK_SPEED,
MOTCUA_CLOCK_ORIGIN and MOTCUA_CLOCK_ORIGIN_AT, so its "now" is the simulator's "now".

Ctrl-C (SIGINT) or SIGTERM stops the simulator, then the worker (SIGTERM, SIGKILL after 30 s),
then the broker if the demo started it. The worker runs in its own session so that a terminal's
Ctrl-C reaches only the demo, which stops it in order; it also dies with the demo (Linux
PR_SET_PDEATHSIG) should the demo itself be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import click

from hub import broker
from hub.cli import main, settings
from hub.domain.calendar import TZ, WorkingCalendar
from hub.errors import StopError
from hub.kafka_client import stop_consumer
from hub.settings import ClockMode, Settings, secret
from hub.stream.clock import WarpedClock
from hub.testing import READY, Process, start_worker, worker_env

DEMO_MARK = "demo-owned"  # in <data_dir>/kafka: the broker's data is the demo's to wipe
BOOT_S = 12.0  # wall seconds the worker gets to start before simulated time reaches the origin
ORIGIN_TIME = dtime(6, 0)  # simulated time at BOOT_S: the offices open at 07:30
LATENESS_WALL_S = 2.0  # allowed lateness, in wall seconds (transport and processing delays)
WORKER_STOP_S = 30.0
PROGRESS_EVERY_S = 10.0


class DemoError(StopError):
    """The demo cannot start or its worker died."""


@dataclass
class Progress:
    messages: int = 0
    raised: Counter[str] = field(default_factory=Counter)
    resolved: int = 0
    example: str | None = None  # a dossier with a PROCESSING_LATE alert, to look up


def _fresh_broker_data(cfg: Settings, say: Any) -> bool:
    """Before the demo starts the broker: wipe what an earlier demo left, keep anything else.
    True when the broker's data will be the demo's own."""
    home = broker.kafka_dir(cfg)
    logs = home / "logs"
    if (home / DEMO_MARK).exists():
        shutil.rmtree(logs, ignore_errors=True)
        return True
    if logs.exists() and any(logs.iterdir()):
        say(
            f"keeping the broker's data in {logs} (not made by a demo): earlier messages on the "
            "hub's topics are read again"
        )
        return False
    return True


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Demo:
    def __init__(
        self,
        cfg: Settings,
        *,
        speed: float,
        dossiers: int,
        days: int,
        start: date,
        seed: int,
        seconds: float | None,
    ) -> None:
        self.cfg = cfg
        self.speed = speed
        self.dossiers = dossiers
        self.days = days
        self.start = start
        self.seed = seed
        self.seconds = seconds
        self.progress = Progress()
        self.worker: Process | None = None
        self.run_dir = (cfg.data_dir / "demo").resolve()
        self.worker_log = self.run_dir / "worker.log"
        self.broker_was_running = False

    # -- the whole run -------------------------------------------------------------------------

    def run(self) -> None:
        cfg = self.cfg
        if not broker.port_free(cfg.web_port, cfg.web_host):
            raise DemoError(
                f"port {cfg.web_port} is in use (MOTCUA_WEB_PORT): is a worker running?"
            )
        was_running = self.broker_was_running = broker.status(cfg).running
        own_data = False
        try:
            if not was_running:
                own_data = _fresh_broker_data(cfg, _say)
            address = broker.start(cfg, say=_say)
            if own_data:
                (broker.kafka_dir(cfg) / DEMO_MARK).write_text("the demo may wipe this broker\n")
            if was_running:
                _say(
                    "the broker was already running: it stays running after the demo; its "
                    "topics may hold earlier feeds (`motcua-hub broker stop` first for a clean "
                    "demo)"
                )
            self.cfg = cfg = cfg.model_copy(update={"kafka_bootstrap": address})
            asyncio.run(self._run())
        finally:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            try:
                self._stop_worker()
                if not was_running:
                    _say("stopping the broker")
                    broker.stop(cfg)
            finally:
                signal.signal(signal.SIGINT, previous)
        _say("demo stopped")

    async def _run(self) -> None:
        from hub.topics import create_topics

        cfg = self.cfg
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await create_topics(cfg)

        origin = datetime.combine(self.start, ORIGIN_TIME, TZ)
        origin_at = datetime.now(TZ) + timedelta(seconds=BOOT_S)
        clock = WarpedClock(self.speed, origin, origin_at)
        lateness = max(cfg.allowed_lateness_s, self.speed * LATENESS_WALL_S)
        self._start_worker(origin, origin_at, lateness)
        tasks: list[asyncio.Task[Any]] = []
        try:
            if not await self._worker_ready(stop):
                return
            self._banner(clock, lateness)
            tasks = [
                asyncio.create_task(self._publish(clock), name="simulator"),
                asyncio.create_task(self._watch_alerts(), name="alerts"),
                asyncio.create_task(self._report(clock), name="progress"),
                asyncio.create_task(self._watch_worker(stop), name="worker"),
            ]
            deadline = None if self.seconds is None else time.monotonic() + self.seconds
            while not stop.is_set():
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout)
                if deadline is not None and time.monotonic() >= deadline:
                    _say(f"--seconds {self.seconds:g} elapsed")
                    break
            _say("stopping")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.worker is not None and self.worker.popen.poll() is not None:
            raise DemoError(
                f"the worker exited with code {self.worker.popen.returncode}; {self.worker_log}:\n"
                f"{_tail(self.worker_log)}"
            )

    # -- the worker ----------------------------------------------------------------------------

    def _start_worker(self, origin: datetime, origin_at: datetime, lateness: float) -> None:
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        from hub.simulate.cli import DEFAULT_SECURITY_CODE

        env = worker_env(
            cfg.kafka_bootstrap,
            cfg.data_dir.resolve(),
            clock=ClockMode.WALL,
            clock_speed=repr(self.speed),
            clock_origin=origin,
            clock_origin_at=origin_at,
            allowed_lateness_s=repr(lateness),
            land_security_code=secret(cfg.land_security_code) or DEFAULT_SECURITY_CODE,
            web_port=cfg.web_port,
            web_host=cfg.web_host,
        )
        # its own session: the terminal's Ctrl-C reaches the demo only, which stops it in order
        self.worker = start_worker(env, self.worker_log, own_session=True)
        _say(f"worker started (pid {self.worker.pid}), log in {self.worker_log}")

    async def _worker_ready(self, stop: asyncio.Event, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        assert self.worker is not None
        while not stop.is_set():
            if self.worker.popen.poll() is not None:
                return False  # reported by _run
            if self.worker.logged(READY) and await _answers(self.cfg.web_host, self.cfg.web_port):
                return True
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the worker did not start in {timeout:.0f} s; {self.worker_log}:"
                    f"\n{_tail(self.worker_log)}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        return False

    async def _watch_worker(self, stop: asyncio.Event) -> None:
        assert self.worker is not None
        while self.worker.popen.poll() is None:
            await asyncio.sleep(0.5)
        stop.set()

    def _stop_worker(self) -> None:
        if self.worker is None or self.worker.popen.poll() is not None:
            return
        _say("stopping the worker")
        if not self.worker.stop(signal.SIGTERM, WORKER_STOP_S):
            _say(f"the worker did not stop in {WORKER_STOP_S:.0f} s: killed it")

    # -- the simulator and what it causes ------------------------------------------------------

    async def _publish(self, clock: WarpedClock) -> None:
        from hub.simulate.cli import DEFAULT_SECURITY_CODE
        from hub.simulate.province import SimConfig, Simulation, load_catalogue
        from hub.simulate.publish import Stats, publish

        cfg = self.cfg
        sim = Simulation(
            SimConfig(
                seed=self.seed,
                dossiers=self.dossiers,
                start=self.start,
                days=self.days,
                security_code=secret(cfg.land_security_code) or DEFAULT_SECURITY_CODE,
                max_message_bytes=cfg.max_message_bytes,
            ),
            load_catalogue(cfg.catalog_file),
            WorkingCalendar.from_file(cfg.calendar_file),
        )
        stats = Stats()
        counting = asyncio.create_task(self._count_sent(stats))
        try:
            await publish(sim, cfg, self.speed, clock=clock, stats=stats)
        finally:
            counting.cancel()
            self.progress.messages = stats.messages
        _say(
            f"the simulated feed is over ({stats.messages} messages); the hub keeps running: "
            "Ctrl-C to stop"
        )

    async def _count_sent(self, stats: Any) -> None:
        while True:
            self.progress.messages = stats.messages
            await asyncio.sleep(0.5)

    async def _watch_alerts(self) -> None:
        from aiokafka import AIOKafkaConsumer

        from hub.codec import decode_alert
        from hub.kafka_client import connection_options
        from hub.topics import ALERTS

        consumer = AIOKafkaConsumer(
            ALERTS,
            **connection_options(self.cfg),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            async for record in consumer:
                if record.value is None:
                    continue
                with contextlib.suppress(Exception):
                    alert = decode_alert(record.value)
                    if alert.state.value == "RAISED":
                        self.progress.raised[alert.type.value] += 1
                        if alert.type.value == "PROCESSING_LATE" and self.progress.example is None:
                            self.progress.example = alert.dossier_code
                    else:
                        self.progress.resolved += 1
        finally:
            await stop_consumer(consumer)

    async def _report(self, clock: WarpedClock) -> None:
        shown_example = False
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            p = self.progress
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(p.raised.items())) or "none yet"
            _say(
                f"[simulated {clock():%a %Y-%m-%d %H:%M}] {p.messages} messages sent; alerts "
                f"raised: {kinds}; resolved {p.resolved}"
            )
            if p.example and not shown_example:
                shown_example = True
                base = f"http://{self.cfg.web_host}:{self.cfg.web_port}"
                _say(
                    f"  a dossier processing late: {p.example} — search it on the page, or "
                    f"{base}/api/dossiers/{p.example}"
                )

    def _banner(self, clock: WarpedClock, lateness: float) -> None:
        cfg = self.cfg
        base = f"http://{cfg.web_host}:{cfg.web_port}"
        day_s = 24 * 3600 / self.speed
        lines = [
            "",
            "motcua-hub demo is running",
            f"  page      {base}/",
            "            the per-unit execution map (on time / late / unreported, by receiving",
            "            unit); click a unit for its late dossiers; search a dossier code for its",
            "            trace (every event, hand-over, pause, due date and alert)",
            f"  metrics   {base}/metrics   health {base}/health",
            f"  alerts    MOTCUA_KAFKA_BOOTSTRAP={cfg.kafka_bootstrap} motcua-hub alerts tail",
            f"  feed      {self.dossiers} dossiers over {self.days} days from the one-stop, land,"
            f" tax and civil-status systems (seed {self.seed})",
            f"  time      simulated, from {clock.origin:%Y-%m-%d %H:%M} (+07), {self.speed:g}x: "
            f"a day every {day_s:.0f} s; allowed lateness {lateness:g} simulated s",
            f"  logs      {self.worker_log}",
            "  Ctrl-C stops the simulator, the worker"
            + (
                " (the broker was running before: it stays)"
                if self.broker_was_running
                else " and the broker"
            ),
            "",
        ]
        click.echo("\n".join(lines))


async def _answers(host: str, port: int) -> bool:
    """True when something answers HTTP on host:port."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET /health HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.read(12), 5.0)
        return head.startswith(b"HTTP/")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _say(line: str) -> None:
    click.echo(f"demo: {line}", err=True)


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not 0 < value < float("inf"):
        raise click.BadParameter("must be a finite number > 0")
    return value


@main.command(context_settings={"show_default": True})
@click.option(
    "--speed",
    type=float,
    default=1800.0,
    callback=_positive,
    help="Simulated seconds per wall second (1800: half an hour a second).",
)
@click.option(
    "--dossiers",
    type=click.IntRange(min=1),
    default=3000,
    help="Dossiers the simulated province receives.",
)
@click.option("--days", type=click.IntRange(min=1), default=30, help="Span of the feed in days.")
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-11-02",
    help="First day of the feed (local date).",
)
@click.option("--seed", type=int, default=1, help="Simulator seed.")
@click.option(
    "--seconds",
    type=float,
    default=None,
    callback=_positive,
    help="Stop by itself after this many seconds (default: run until Ctrl-C).",
)
@click.pass_context
def demo(
    ctx: click.Context,
    speed: float,
    dossiers: int,
    days: int,
    start: datetime,
    seed: int,
    seconds: float | None,
) -> None:
    """The one-command local run: broker, topics, worker, simulated province, web page."""
    Demo(
        settings(ctx),
        speed=speed,
        dossiers=dossiers,
        days=days,
        start=start.date(),
        seed=seed,
        seconds=seconds,
    ).run()
