r"""The stream app of one worker: the intake loop, the faust app (state table, judge agent, timer).

    agency.*.status --intake--> hub.dossier.events --judge--> hub.alerts
              \--> hub.deadletter        ^ clock records (marks, wall time) from every worker

Thin wiring: decoding lives in connectors/ (run by hub/stream/intake.py on plain aiokafka),
judging in hub/domain/ via hub/stream/judge.py, the record protocol in hub/protocol.py. It knows
nothing of the web face or the state gauges: hub/service.py assembles those around it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import faust

from hub.codec import CodecError, encode_alert
from hub.domain.alerts import Alert
from hub.domain.calendar import WorkingCalendar
from hub.domain.engine import Engine
from hub.metrics import HubMetrics
from hub.protocol import (
    KIND_CLOCK,
    KIND_EVENT,
    DeadLetterInfo,
    ProtocolError,
    dead_letter_headers,
    entered_at,
    kind_headers,
    kind_of,
)
from hub.settings import Settings
from hub.stream.clock import Clock
from hub.stream.ingest import clock_record
from hub.stream.intake import Intake
from hub.stream.judge import Judge
from hub.stream.summaries import SummaryPublisher
from hub.topics import ALERTS, DEADLETTER, DOSSIER_EVENTS, DOSSIER_SUMMARY

log = logging.getLogger(__name__)


def broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def _kafka_credentials(settings: Settings) -> Any:
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        import ssl

        ssl_context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


def faust_app(settings: Settings) -> faust.App:
    """The worker's faust app: the judge's consumer group, its table, the web server."""
    return faust.App(
        settings.app_id,
        broker=broker_urls(settings.kafka_bootstrap),
        broker_credentials=_kafka_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / "worker" / settings.app_id),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        table_standby_replicas=0,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=30,
        broker_heartbeat_interval=3,
        stream_wait_empty=False,
    )


class StreamApp:
    """The intake, the judge and their faust app, for one worker process.

    `publisher` receives each evaluation's facts and hands back the summary records the judge
    agent sends with the batch; `on_tick` hooks run after each clock tick.
    """

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
        self.on_tick: list[Callable[[], Awaitable[None]]] = []
        self.intake = Intake(settings, calendar, clock, metrics)
        self.app = app = faust_app(settings)
        self.events = app.topic(
            DOSSIER_EVENTS,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        self.table = app.Table(
            "dossiers",
            partitions=settings.partitions,
            key_type=bytes,  # bytes types make faust use the raw codec, also when recovering
            value_type=bytes,
        )
        self._changelog: list[tuple[bytes, bytes | None, int]] = []
        self.judge = Judge(
            settings, engine, clock, self.table, metrics=metrics, writer=self._write_table
        )
        self.judge.on_facts = publisher.collect
        app.task(self._run_intake)
        app.agent(self.events, name="judge")(self._judge)
        app.timer(settings.tick_interval_s, name="clock")(self._tick)
        app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]

    def owned_partitions(self) -> set[int]:
        """The partitions of hub.dossier.events this worker judges now (empty before start)."""
        try:
            actives = self.app.assignor.assigned_actives()
        except Exception:  # not started
            return set()
        return {tp.partition for tp in actives if tp.topic == DOSSIER_EVENTS}

    def _write_table(self, key: bytes, value: bytes | None, partition: int) -> None:
        """A table write outside faust's per-event context: to the state's own partition.

        The store is updated at once; the changelog record waits in `_changelog` for the judge
        agent, which sends it with the batch's other records on the producer faust flushes
        before committing (faust's own changelog path costs several times more per record).
        """
        if value is None:
            self.table.data.pop(key, None)
        else:
            self.table.data[key] = value
        self._changelog.append((key, value, partition))

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        self.judge.forget_partitions()

    async def _run_intake(self) -> None:
        await self.intake.run()

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> Awaitable[Any]:
        """Enqueue a record on the app's producer; the result is awaited once per batch.

        faust's Topic.send costs more per record than the whole of the hub's own work, so the
        agents hand records to the producer directly. faust flushes that producer before it
        commits offsets, so a committed input never has an output still in flight.
        """
        fut: Awaitable[Any] = await self.app.producer.send(
            topic, key, value, partition, None, headers
        )
        return fut

    async def _tick(self) -> None:
        intake = self.intake
        record = clock_record(
            self.clock, intake.marks, intake.partition_count(), intake.highwater, intake.position
        )
        for partition in range(self.settings.partitions):
            await self.events.send(
                key=b"", value=record, partition=partition, headers=kind_headers(KIND_CLOCK)
            )
        owned = self.owned_partitions()
        self.publisher.clock({p: self.judge.now_ms(p) for p in owned})
        for key, value in self.publisher.take():
            await self._send(DOSSIER_SUMMARY, key, value, [])
        for hook in self.on_tick:
            await hook()

    async def _judge(self, stream: Any) -> None:
        cfg = self.settings
        async for batch in stream.take_events(cfg.batch_max, within=cfg.batch_within_s):
            alerts: list[Alert] = []
            failed: list[tuple[Any, Exception]] = []
            entered: list[float] = []
            for event in batch:
                msg = event.message
                try:
                    kind = kind_of(msg.headers)
                    found = self.judge.handle(kind, msg.partition, msg.key, msg.value)
                except (ProtocolError, CodecError) as exc:  # a stray record: no bug of ours
                    log.warning("dead-lettered a stray record %s[%d]@%d: %s",
                                msg.topic, msg.partition, msg.offset, exc)  # fmt: skip
                    failed.append((msg, exc))
                    continue
                except Exception as exc:  # a bug on one dossier must not stop the others
                    log.exception("judging %r failed", msg.key)
                    self.metrics.judge_failures.inc()
                    failed.append((msg, exc))
                    continue
                if found and kind == KIND_EVENT and (stamp := entered_at(msg.headers)):
                    entered.append(stamp)
                alerts += found
            self.judge.flush()
            sent: list[Awaitable[Any]] = []
            for alert in alerts:
                value = encode_alert(alert)
                sent.append(await self._send(ALERTS, alert.dossier_code.encode(), value, []))
            for key, value, record_kind in self.judge.outbox:
                sent.append(await self._send(DOSSIER_EVENTS, key, value, kind_headers(record_kind)))
            self.judge.outbox.clear()
            for key, value in self.publisher.take():
                sent.append(await self._send(DOSSIER_SUMMARY, key, value, []))
            for bad, error in failed:
                self.metrics.deadletters.labels("hub", "INTERNAL").inc()
                why = _internal(bad, error, self.clock())
                sent.append(await self._send(DEADLETTER, bad.key, bad.value, why))
            if sent:
                await asyncio.gather(*sent)
            # Only once the alerts are acknowledged does the state that records them as sent
            # reach the changelog: a crash in between sends them again after the restart (at
            # least once), never loses them.
            changelog = self.table.changelog_topic.get_topic_name()
            written = [
                await self._send(changelog, key, value, [], partition)
                for key, value, partition in self._changelog
            ]
            self._changelog.clear()
            if written:
                await asyncio.gather(*written)
            done = time.time()
            for t in entered:
                self.metrics.latency.observe(max(0.0, done - t))


def _internal(msg: Any, exc: Exception, now: datetime) -> list[tuple[str, bytes]]:
    return dead_letter_headers(
        DeadLetterInfo(
            reason="INTERNAL",
            message=repr(exc),
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            connector="judge",
            failed_at=now,
        )
    )
