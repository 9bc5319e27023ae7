r"""The stream app of one worker: the intake, the judge loop, the clock ticks, in a faust shell.

    agency.*.status --intake--> hub.dossier.events --judge--> hub.alerts
              \--> hub.deadletter        ^ clock records (marks, wall time) from every worker

Both stages run on plain aiokafka with transactions (hub/stream/intake.py, hub/stream/judging.py):
faust's stream machinery cost more per message than the hub's own work, and its changelog-backed
table cannot commit in the same transaction as the judge's alerts and input offsets. faust keeps
what it does well here: the worker process (signals, logging, start and stop), the timers and
tasks, and the web server. Its own Kafka consumer and producer are not started.

Thin wiring: decoding lives in connectors/, judging in hub/domain/ via hub/stream/judge.py, the
record protocol in hub/protocol.py. It knows nothing of the web face or the state gauges:
hub/service.py assembles those around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import faust
from aiokafka import AIOKafkaProducer
from faust.app.base import BootStrategy

from hub.domain.calendar import WorkingCalendar
from hub.domain.engine import Engine
from hub.kafka_client import connection_options, restartable, sender_gone
from hub.metrics import HubMetrics
from hub.protocol import KIND_CLOCK, encode_worker, kind_headers, worker_key
from hub.settings import Settings
from hub.stream.clock import Clock
from hub.stream.ingest import clock_record
from hub.stream.intake import Intake
from hub.stream.judge import Judge
from hub.stream.judging import JudgeLoop
from hub.stream.publisher import SummaryPublisher
from hub.stream.state import StateCache, to_ms
from hub.stream.table import DossierTable
from hub.topics import DOSSIER_EVENTS, DOSSIER_SUMMARY

log = logging.getLogger(__name__)
ANNOUNCE_EVERY_S = 10.0  # how often a worker says, on the summary topic, what it judges


class _Shell(BootStrategy):
    """faust without its Kafka consumer and producer: the worker, timers, tasks, web server."""

    enable_kafka = False


class ShellApp(faust.App):
    BootStrategy = _Shell


def faust_app(settings: Settings) -> faust.App:
    """The worker's faust app: the process, its tasks and its web server."""
    return ShellApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap.split(',')[0].strip()}",
        store="memory://",
        datadir=str(settings.data_dir / "worker" / settings.app_id),
        table_standby_replicas=0,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
    )


class StreamApp:
    """The intake, the judge loop and their faust shell, for one worker process."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        calendar: WorkingCalendar,
        engine: Engine,
        metrics: HubMetrics,
        publisher: SummaryPublisher,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.calendar = calendar
        self.engine = engine
        self.metrics = metrics
        self.publisher = publisher
        self.intake = Intake(settings, calendar, clock, metrics)
        self.table = DossierTable()  # on disk once the judge loop opens its store
        self.judge = Judge(
            settings,
            engine,
            clock,
            self.table,
            metrics=metrics,
            cache=StateCache(settings.state_cache_dossiers),
            writer=self.table.write,
        )
        self.judge.on_facts = publisher.collect
        self.judging = JudgeLoop(settings, clock, self.judge, self.table, publisher, metrics)
        self.app = app = faust_app(settings)
        self._announced: tuple[frozenset[int], float] = (frozenset(), 0.0)
        app.task(self._run_intake)
        app.task(self._run_judge)
        app.task(self._run_ticks)

    def owned_partitions(self) -> set[int]:
        """The partitions of hub.dossier.events this worker judges now (empty before start)."""
        return set(self.judging.assigned)

    async def _run_intake(self) -> None:
        await self.intake.run()

    async def _run_judge(self) -> None:
        await self.judging.run()

    async def _run_ticks(self) -> None:
        """Every MOTCUA_TICK_INTERVAL_S: the clock records, the judged partitions' "now" for the
        statistics, and (now and then) what this worker judges, for routing traces.

        A failed tick is tried again at the next one (the broker away); with a new producer if
        the old one's sender died (aiokafka ends it on an unexpected error, as a broker
        restarts): a producer without one never sends again, and every partition's event
        clock would stop."""
        producer = await self._clock_producer()
        try:
            while True:
                await asyncio.sleep(self.settings.tick_interval_s)
                try:
                    await self._tick(producer)
                except BaseException as exc:
                    if not restartable(exc):
                        raise
                    log.exception("clock tick failed")
                    if sender_gone(producer):
                        log.warning("the clock producer's sender is gone: starting another")
                        with contextlib.suppress(Exception):
                            await producer.stop()
                        producer = await self._clock_producer()
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _clock_producer(self) -> AIOKafkaProducer:
        while True:
            producer = AIOKafkaProducer(
                acks="all", enable_idempotence=True, **connection_options(self.settings)
            )
            try:
                await producer.start()
                return producer
            except Exception as exc:
                log.warning("clock producer cannot start yet: %r", exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(1.0)

    async def _tick(self, producer: AIOKafkaProducer) -> None:
        intake = self.intake
        record = clock_record(
            self.clock, intake.marks, intake.partition_count(), intake.highwater, intake.position
        )
        sent = [
            await producer.send(
                DOSSIER_EVENTS, record, key=b"", partition=p, headers=kind_headers(KIND_CLOCK)
            )
            for p in range(self.judging.partition_count() or self.settings.partitions)
        ]
        owned = self.owned_partitions()
        for key, value in self.publisher.clock({p: self.judge.now_ms(p) for p in owned}):
            sent.append(await producer.send(DOSSIER_SUMMARY, value, key=key))
        mine, at = frozenset(owned), asyncio.get_running_loop().time()
        if mine != self._announced[0] or at - self._announced[1] >= ANNOUNCE_EVERY_S:
            value = encode_worker(
                self.settings.advertised_web_url, sorted(mine), to_ms(self.clock())
            )
            sent.append(
                await producer.send(DOSSIER_SUMMARY, value, key=worker_key(self.settings.instance))
            )
            self._announced = (mine, at)
        await asyncio.gather(*sent)
