"""The hub's own health and the state gauges at `/metrics` (hub/metrics.py holds the counters).

Conventions: `motcua_` prefix, base units (seconds, messages), `_total` counters, bounded labels
only: source, reason, type, state, unit (the receiving units of the unit list,
MOTCUA_UNITS_FILE: a few hundred per province; any other unit is `other`, hub/metrics.UnitLabels),
topic and partition. Never a dossier code or a person.

Counted at the scrape while the province holds at most 20 000 dossiers; past that, every 15 s
by a timer of the worker, a chunk of summaries at a time (a pass over a province's summaries
takes seconds, which a scrape must not hold the event loop for), and a scrape answers from the
last count at once:
- `motcua_open_dossiers{unit,state}` and `motcua_open_alerts{type,unit}`: over the dossier
  summaries of the partitions *this worker judges* (hub/stream/summaries.py), as of the hub's
  "now"; so `sum without(instance)` across workers is the province, with no double counting;
- `motcua_audit_findings{kind,unit}`: the rules.md §9 findings (records that hide lateness)
  whose time has come, over the summaries of those partitions;
- `motcua_dossiers_without_catalogue_procedure{reason}`: received dossiers of those partitions
  whose procedure is unknown (`no_code`) or missing from the catalogue (`not_in_catalogue`);
- `motcua_table_entries{table}`: the dossier state table (this worker's partitions) and the
  summary map (the whole province).
Sampled every few seconds by a timer (the consumer's positions are asynchronous):
- `motcua_consumer_lag_messages{topic,partition}`: high watermark less position, per inbound
  partition this worker consumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.domain.stats import Summary, ms
from hub.metrics import UnitLabels
from hub.protocol import is_internal_key
from hub.stream.summaries import SummaryStore

log = logging.getLogger(__name__)
REFRESH_CHUNK = 2000  # summaries counted between two yields to the event loop
SCRAPE_COUNT_MAX = 20_000  # summaries up to which a scrape counts them itself


class StateCollector(Collector):
    """The state gauges, from one worker's summary map and table (see the module's text)."""

    def __init__(
        self,
        store: SummaryStore,
        # the dossier table's keys, or (the worker's table, counted as it is written) their count
        table_keys: Callable[[], Iterable[bytes] | int],
        owned_partitions: Callable[[], set[int]],
    ) -> None:
        self.store = store
        self.table_keys = table_keys
        self.owned_partitions = owned_partitions
        # read when the worker is built, before Kafka: a bad unit list stops it at once
        self.unit_label = UnitLabels.from_file(store.settings.units_file)
        self._snapshot: Tallies | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        dossiers = GaugeMetricFamily(
            "motcua_open_dossiers",
            "Open dossiers of the partitions this worker judges, per receiving unit and state "
            "(paused ones are also counted as within_due or past_due)",
            labels=["unit", "state"],
        )
        alerts = GaugeMetricFamily(
            "motcua_open_alerts",
            "Alerts raised and not resolved, per type and receiving unit (this worker's "
            "partitions)",
            labels=["type", "unit"],
        )
        missing = GaugeMetricFamily(
            "motcua_dossiers_without_catalogue_procedure",
            "Received dossiers (this worker's partitions) with no due date from the catalogue: "
            "no procedure code, or a code not in the catalogue",
            labels=["reason"],
        )
        audit = GaugeMetricFamily(
            "motcua_audit_findings",
            "Audit findings (rules.md §9: records that hide lateness) whose time has come, per "
            "kind and receiving unit (this worker's partitions)",
            labels=["kind", "unit"],
        )
        tables = GaugeMetricFamily(
            "motcua_table_entries",
            "Entries held: the dossier state table (this worker) and the summary map (province)",
            labels=["table"],
        )
        try:
            self._fill(dossiers, alerts, missing, tables, audit)
        except Exception:  # a scrape must not break on a transient state
            log.exception("collecting state metrics failed")
        yield dossiers
        yield alerts
        yield missing
        yield audit
        yield tables

    def _fill(
        self,
        dossiers: GaugeMetricFamily,
        alerts: GaugeMetricFamily,
        missing: GaugeMetricFamily,
        tables: GaugeMetricFamily,
        audit: GaugeMetricFamily,
    ) -> None:
        store = self.store
        # a small province is counted at the scrape (fresh, well under 0.1 s); a large one
        # answers from the refresher's last tallies
        fresh = self._snapshot is None or len(store.summaries) <= SCRAPE_COUNT_MAX
        tally = self._count_now() if fresh or self._snapshot is None else self._snapshot
        for (unit, state), n in sorted(tally.states.items()):
            dossiers.add_metric([unit, state], n)
        for (kind, unit), n in sorted(tally.opened.items()):
            alerts.add_metric([kind, unit], n)
        for reason, n in sorted(tally.unknown.items()):
            missing.add_metric([reason], n)
        for (kind, unit), n in sorted(tally.found.items()):
            audit.add_metric([kind, unit], n)
        keys = self.table_keys()
        table_size = (
            keys if isinstance(keys, int) else sum(1 for k in keys if not is_internal_key(bytes(k)))
        )
        tables.add_metric(["dossiers"], table_size)
        tables.add_metric(["summaries"], len(store.summaries))

    def _count_now(self) -> Tallies:
        tally = Tallies()
        as_of: datetime | None = self.store.as_of()
        if as_of is not None:
            t = ms(as_of)
            for s in self.store.in_partitions(self.owned_partitions()):  # only these decoded
                self._count(tally, s, t)
        return tally

    async def refresh(self) -> None:
        """Count the gauges afresh, a chunk of summaries at a time so that the stages run in
        between; scrapes then answer from these counts at once. Run by the worker's timer: at a
        province's size a pass takes seconds, which a scrape must not hold the loop for."""
        if len(self.store.summaries) <= SCRAPE_COUNT_MAX:
            self._snapshot = None  # counted at each scrape
            return
        tally = Tallies()
        as_of: datetime | None = self.store.as_of()
        if as_of is not None:
            t = ms(as_of)
            for n, s in enumerate(self.store.in_partitions(self.owned_partitions()), start=1):
                self._count(tally, s, t)
                if n % REFRESH_CHUNK == 0:
                    await asyncio.sleep(0)
        self._snapshot = tally

    def _count(self, tally: Tallies, s: Summary, t: int) -> None:
        if s.received is not None and s.received <= t and not s.in_catalog:
            tally.unknown["no_code" if s.procedure is None else "not_in_catalogue"] += 1
        unit = self.unit_label(s.unit)
        for kind in s.open_alerts(t):
            tally.opened[(kind, unit)] += 1
        for x in s.findings:
            if x.at <= t:
                tally.found[(x.kind, unit)] += 1
        if not s.is_open(t):
            return
        tally.states[(unit, "past_due" if s.past_due(t) else "within_due")] += 1
        if s.is_paused(t):
            tally.states[(unit, "paused")] += 1


@dataclass
class Tallies:
    """The state gauges' counts over one pass of this worker's summaries."""

    states: Tally[tuple[str, str]] = field(default_factory=Tally)
    opened: Tally[tuple[str, str]] = field(default_factory=Tally)
    unknown: Tally[str] = field(
        default_factory=lambda: Tally({"no_code": 0, "not_in_catalogue": 0})
    )
    found: Tally[tuple[str, str]] = field(default_factory=Tally)


class LagSampler:
    """Consumer lag gauges, sampled every few seconds (the consumer's positions are async)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumer_lag = Gauge(
            "motcua_consumer_lag_messages",
            "Inbound messages not yet consumed (high watermark less position), per owned partition",
            ["topic", "partition"],
            registry=registry,
        )
        self.summary_lag = Gauge(
            "motcua_digest_reader_lag_messages",
            "Dossier summaries not yet read by this worker's province-wide map",
            registry=registry,
        )
        self._labels: set[tuple[str, str]] = set()

    def sample(self, inbound_lag: Mapping[tuple[str, int], int], summary_lag: int) -> None:
        seen: set[tuple[str, str]] = set()
        for (topic, partition), lag in inbound_lag.items():
            labels = (topic, str(partition))
            seen.add(labels)
            self.consumer_lag.labels(*labels).set(lag)
        for labels in self._labels - seen:  # partitions this worker no longer consumes
            with contextlib.suppress(KeyError):
                self.consumer_lag.remove(*labels)
        self._labels = seen
        self.summary_lag.set(summary_lag)
