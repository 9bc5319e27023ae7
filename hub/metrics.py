"""Prometheus metrics of one worker (bounded labels: source, reason, type, state, unit).

A `HubMetrics` owns its registry, so two workers in one process (tests) count apart. The stream
layer takes one as an argument; hub/service.py builds one per worker and serves its registry at
`/metrics`, together with the state gauges of hub/monitoring.py.

A `unit` label never takes a value from message data as such: a sender could make as many label
values (series) as it likes. `UnitLabels` keeps the province's receiving units (the unit list,
MOTCUA_UNITS_FILE) and counts every other under `other`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hub.errors import ConfigError

OTHER_UNIT = "other"
# the receiving units of dossiers no one-stop desk received (hub/domain/stats.receiving_unit)
SECTOR_UNITS = frozenset({"land", "civil"})


@dataclass(frozen=True)
class UnitLabels:
    """The `unit` label of a receiving unit: its code when the unit list has it (a civil-status
    agency `civil:<name>` when the list has a unit of that name, `land` and `civil` as they
    are), else `other`."""

    codes: frozenset[str]
    names: frozenset[str]

    def __call__(self, unit: str) -> str:
        if unit in self.codes or unit in SECTOR_UNITS:
            return unit
        if unit.startswith("civil:") and unit.removeprefix("civil:") in self.names:
            return unit
        return OTHER_UNIT

    @classmethod
    def from_file(cls, path: Path) -> UnitLabels:
        """The unit list (CSV: code, name); a bad line stops the worker, naming it."""
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"unit list {path}: {exc}") from exc
        reader = csv.DictReader(text.splitlines())
        if not {"code", "name"} <= set(reader.fieldnames or []):
            raise ConfigError(f"unit list {path}, line 1: the columns are code,name")
        codes: set[str] = set()
        names: set[str] = set()
        for lineno, row in enumerate(reader, start=2):
            code, name = (row.get("code") or "").strip(), (row.get("name") or "").strip()
            if not code or code == OTHER_UNIT or code in SECTOR_UNITS:
                raise ConfigError(f"unit list {path}, line {lineno}: bad unit code {code!r}")
            codes.add(code)
            if name:
                names.add(name)
        return cls(frozenset(codes), frozenset(names))


class HubMetrics:
    """The counters and gauges the stream layer updates as it works."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "motcua_messages_consumed", "Inbound messages consumed", ["source"], registry=r
        )
        self.events = Counter(
            "motcua_dossier_events", "Common dossier events produced", ["source"], registry=r
        )
        self.informational = Counter(
            "motcua_informational_messages",
            "Accepted messages that carry nothing for the rules",
            ["source"],
            registry=r,
        )
        self.deadletters = Counter(
            "motcua_deadletters",
            "Messages sent to the dead-letter topic",
            ["source", "reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "motcua_duplicate_events",
            "Redelivered events that changed nothing",
            ["source"],
            registry=r,
        )
        self.alerts = Counter(
            "motcua_alert_transitions", "Alert transitions emitted", ["type", "state"], registry=r
        )
        self.watermark = Gauge(
            "motcua_watermark_seconds",
            "The clock the rules are judged against (event-clock watermark or wall less lateness)",
            registry=r,
        )
        self.event_lag = Gauge(
            "motcua_event_time_lag_seconds",
            "Wall time less the event time of the latest inbound message",
            ["source"],
            registry=r,
        )
        self.latency = Histogram(
            "motcua_processing_latency_seconds",
            "From an event entering the hub to the alerts it causes being sent",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.expired = Counter(
            "motcua_dossiers_expired",
            "Closed dossiers whose state was dropped after the retention period",
            registry=r,
        )
        self.tax_only = Gauge(
            "motcua_tax_only_dossiers",
            "Dossiers known only from tax events (kept until another system reports them)",
            registry=r,
        )
        self.full_dossiers = Gauge(
            "motcua_full_dossiers",
            "Dossiers that refused an event: at MOTCUA_MAX_EVENTS_PER_DOSSIER events or "
            "MOTCUA_MAX_DOSSIER_BYTES of events (the event dead-lettered TOO_LARGE)",
            registry=r,
        )
        self.judge_failures = Counter(
            "motcua_judge_failures",
            "Dossiers whose judging failed (a bug): left as they were, the record dead-lettered",
            registry=r,
        )
        self.commit_seconds = Histogram(
            "motcua_transaction_commit_seconds",
            "How long committing a batch's transaction takes (offsets and commit), per stage",
            ["stage"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.batch_records = Histogram(
            "motcua_batch_records",
            "Records per batch a stage takes (one transaction each)",
            ["stage"],
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 5000),
            registry=r,
        )
        self.skipped = Counter(
            "motcua_internal_records_skipped",
            "Records on the hub's own topics that did not follow its protocol, skipped",
            ["topic"],
            registry=r,
        )
