"""Prometheus metrics of the hub (bounded labels: source, reason, type, state, unit)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

MESSAGES = Counter(
    "motcua_messages_consumed", "Inbound messages consumed", ["source"], registry=REGISTRY
)
EVENTS = Counter(
    "motcua_dossier_events", "Common dossier events produced", ["source"], registry=REGISTRY
)
INFORMATIONAL = Counter(
    "motcua_informational_messages",
    "Accepted messages that carry nothing for the rules",
    ["source"],
    registry=REGISTRY,
)
DEADLETTERS = Counter(
    "motcua_deadletters",
    "Messages sent to the dead-letter topic",
    ["source", "reason"],
    registry=REGISTRY,
)
DUPLICATES = Counter(
    "motcua_duplicate_events",
    "Redelivered events that changed nothing",
    ["source"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "motcua_alert_transitions", "Alert transitions emitted", ["type", "state"], registry=REGISTRY
)
WATERMARK = Gauge(
    "motcua_watermark_seconds",
    "The clock the rules are judged against (event-clock watermark or wall less lateness)",
    registry=REGISTRY,
)
EVENT_LAG = Gauge(
    "motcua_event_time_lag_seconds",
    "Wall time less the event time of the latest inbound message",
    ["source"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "motcua_processing_latency_seconds",
    "From an event entering the hub to the alerts it causes being sent",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DOSSIERS = Gauge("motcua_dossiers", "Dossiers held in this worker's state table", registry=REGISTRY)
EXPIRED = Counter(
    "motcua_dossiers_expired",
    "Closed dossiers whose state was dropped after the retention period",
    registry=REGISTRY,
)
TAX_ONLY = Gauge(
    "motcua_tax_only_dossiers",
    "Dossiers known only from tax events (kept until another system reports them)",
    registry=REGISTRY,
)
