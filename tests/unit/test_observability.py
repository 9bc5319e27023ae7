"""/metrics conventions, the Prometheus deploy files and the Grafana dashboard (issue 5)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from hub.metrics import HubMetrics
from hub.monitoring import LagSampler, StateCollector
from hub.settings import Settings
from hub.stream.clock import system_clock
from hub.stream.summaries import SummaryStore
from hub.web import period_bounds
from tests.samples import END_TIME

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")


def worker_metrics() -> HubMetrics:
    """A worker's registry, assembled as hub/service.py does it."""
    metrics = HubMetrics()
    store = SummaryStore(Settings(), system_clock, metrics)
    metrics.registry.register(StateCollector(store, lambda: [], set))
    LagSampler(metrics.registry)
    return metrics


def exported_names() -> set[str]:
    names: set[str] = set()
    for family in worker_metrics().registry.collect():
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


def test_metric_names_follow_conventions() -> None:
    for family in worker_metrics().registry.collect():
        assert family.name.startswith("motcua_"), family.name
        assert "dossier_code" not in family.name
    wanted = {
        "motcua_messages_consumed_total",
        "motcua_dossier_events_total",
        "motcua_deadletters_total",
        "motcua_alert_transitions_total",
        "motcua_open_alerts",
        "motcua_open_dossiers",
        "motcua_event_time_lag_seconds",
        "motcua_processing_latency_seconds_bucket",
        "motcua_watermark_seconds",
        "motcua_consumer_lag_messages",
        "motcua_table_entries",
        "motcua_dossiers_without_catalogue_procedure",
    }
    assert wanted <= exported_names()


@promtool
def test_promtool_accepts_the_metrics_text() -> None:
    metrics = worker_metrics()
    metrics.messages.labels("onestop").inc()
    metrics.deadletters.labels("land", "BAD_TIME").inc()
    metrics.latency.observe(0.01)
    text = generate_latest(metrics.registry)
    done = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


@promtool
def test_prometheus_deploy_files_are_valid() -> None:
    rules = subprocess.run(
        ["promtool", "check", "rules", str(DEPLOY / "prometheus" / "motcua-hub-rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = subprocess.run(
        ["promtool", "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def _metric_refs(expr: str) -> set[str]:
    return set(re.findall(r"\bmotcua_[a-z0-9_]+", expr))


def test_alert_rules_only_name_exported_metrics() -> None:
    text = (DEPLOY / "prometheus" / "motcua-hub-rules.yml").read_text(encoding="utf-8")
    refs = _metric_refs(text)
    assert refs and refs <= exported_names(), refs - exported_names()


def test_grafana_dashboard_queries_name_exported_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "motcua-hub.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10
    exported = exported_names()
    for expr in exprs:
        refs = _metric_refs(expr)
        assert refs, f"query names no hub metric: {expr}"
        assert refs <= exported, (expr, refs - exported)
        assert "dossier_code" not in expr


def test_period_bounds() -> None:
    start, end = period_bounds({"period": "month"}, END_TIME)
    assert (start.isoformat(), end.isoformat()) == (  # type: ignore[union-attr]
        "2026-12-01T00:00:00+07:00",
        "2027-01-01T00:00:00+07:00",
    )
    start, end = period_bounds({"period": "today"}, END_TIME)
    assert start.isoformat() == "2026-12-06T00:00:00+07:00"  # type: ignore[union-attr]
    start, end = period_bounds({"from": "2026-11-01", "to": "2026-11-30"}, END_TIME)
    assert end.isoformat() == "2026-12-01T00:00:00+07:00"  # type: ignore[union-attr]
    assert period_bounds({}, END_TIME) == (None, None)
    with pytest.raises(ValueError):
        period_bounds({"period": "week"}, END_TIME)


def test_two_workers_count_apart() -> None:
    one, two = worker_metrics(), worker_metrics()
    one.messages.labels("tax").inc(3)
    consumed = "motcua_messages_consumed_total"
    assert one.registry.get_sample_value(consumed, {"source": "tax"}) == 3
    assert two.registry.get_sample_value(consumed, {"source": "tax"}) is None


@pytest.mark.parametrize(
    "params",
    [
        {"to": "9999-12-31"},
        {"from": "0001-01-01"},
        {"to": "9999-12-31T23:59:59"},
        {"from": "2026-13-01"},
        {"to": "x" * 10_000},
    ],
)
def test_period_bounds_out_of_range_are_bad_requests(params: dict[str, str]) -> None:
    from hub.web import BadRequest

    with pytest.raises(BadRequest) as caught:
        period_bounds(params, END_TIME)
    assert len(str(caught.value)) < 200
