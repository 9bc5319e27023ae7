"""The one place that assembles a worker: stream app, summaries, web face, metrics.

    Service
    ├── HubMetrics (its own registry)  <- StateCollector, LagSampler (hub/monitoring.py)
    ├── SummaryPublisher               <- the judge's facts; sent by the judge agent
    ├── StreamApp (hub/stream/app.py)  the intake, the faust app, its table, the judge, the tick
    ├── SummaryStore                   an app task: the province-wide summary map
    └── web face (hub/web)             the page, the JSON API, /metrics, /health

Every module below takes what it needs as arguments; none imports this one. Nothing happens at
import time: `Service(...)` builds (and installs the one change made to a library,
hub/stream/fencing.py, checked against its version), and two services can live side by side in
one process (each with its own faust app, registry, table and store).
"""

from __future__ import annotations

import logging

import faust

from hub import web
from hub.domain.calendar import WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.metrics import HubMetrics
from hub.monitoring import LagSampler, StateCollector
from hub.settings import Settings
from hub.stream import fencing
from hub.stream.app import StreamApp
from hub.stream.clock import Clock, system_clock
from hub.stream.judge import Judge
from hub.stream.publisher import SummaryPublisher
from hub.stream.summaries import SummaryStore

log = logging.getLogger(__name__)
LAG_SAMPLE_S = 5.0
# the state gauges counted afresh: a pass over this worker's summaries, seconds at a province's
# size, so not at each scrape (which answers from the last count at once)
STATE_COUNT_S = 15.0


class Service:
    """One worker process's parts, wired. `app` is what a faust `Worker` runs."""

    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        fencing.install()  # the one change to a library's insides: hub/stream/fencing.py
        self.settings = settings
        self.clock = clock
        # the catalogue and the calendar are read (and a bad line reported) before Kafka is used
        self.calendar = WorkingCalendar.from_file(settings.calendar_file)
        self.engine = Engine(
            self.calendar, Catalog.from_file(settings.catalog_file), settings.grace_working_days
        )
        self.metrics = HubMetrics()
        self.publisher = SummaryPublisher(self.calendar, settings.grace_working_days)
        self.stream = StreamApp(
            settings, clock, self.calendar, self.engine, self.metrics, self.publisher
        )
        self.store = SummaryStore(settings, clock, self.metrics)
        self.collector = StateCollector(
            self.store, self.stream.table.dossier_count, self.stream.owned_partitions
        )
        self.metrics.registry.register(self.collector)
        self.lag = LagSampler(self.metrics.registry)
        app = self.stream.app
        app.task(self._read_summaries)
        app.timer(LAG_SAMPLE_S, name="metrics-sample")(self._sample_lag)
        app.timer(STATE_COUNT_S, name="state-metrics")(self._count_state)
        web.install(
            app,
            web.WebContext(
                settings=settings,
                clock=clock,
                calendar=self.calendar,
                engine=self.engine,
                store=self.store,
                table=self.stream.table,
                judge=self.stream.judge,
                registry=self.metrics.registry,
                owned_partitions=self.stream.owned_partitions,
                partition_count=self.stream.judging.partition_count,
            ),
        )

    @property
    def app(self) -> faust.App:
        return self.stream.app

    @property
    def judge(self) -> Judge:
        return self.stream.judge

    async def _read_summaries(self) -> None:
        await self.store.run()

    async def _count_state(self) -> None:
        try:
            await self.collector.refresh()
        except Exception:  # a raising faust timer stops the whole worker; a metric must not
            log.exception("counting the state gauges failed")

    async def _sample_lag(self) -> None:
        try:
            self.lag.sample(self.stream.intake.lag(), self.store.status()["lag"])
        except Exception:  # a raising faust timer stops the whole worker; a metric must not
            log.exception("sampling the consumer lag failed")
