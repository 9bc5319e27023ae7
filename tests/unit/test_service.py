"""hub/service.py assembles a worker; nothing happens at import time; two live side by side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hub.service import Service
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_worker_starts_or_registers_nothing() -> None:
    code = (
        "import faust, prometheus_client\n"
        "before = set(prometheus_client.REGISTRY._names_to_collectors)\n"
        "import hub.stream.app, hub.web, hub.monitoring, hub.service, hub.worker\n"
        "assert set(prometheus_client.REGISTRY._names_to_collectors) == before\n"
        "assert not any(n.startswith('motcua') for n in before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_two_services_in_one_process(tmp_path: Path) -> None:
    one = Service(Settings(app_id="one", web_port=16066, data_dir=tmp_path / "1"))
    two = Service(Settings(app_id="two", web_port=16067, data_dir=tmp_path / "2"))
    assert one.app is not two.app and one.app.conf.id == "one" and two.app.conf.id == "two"
    assert one.metrics.registry is not two.metrics.registry
    assert one.store is not two.store and one.judge is not two.judge
    assert one.judge.on_facts == one.publisher.collect
    assert one.stream.table is not two.stream.table
    assert one.stream.intake.transactional_id != two.stream.intake.transactional_id
    one.metrics.messages.labels("civil").inc()
    consumed = "motcua_messages_consumed_total"
    assert one.metrics.registry.get_sample_value(consumed, {"source": "civil"}) == 1
    assert two.metrics.registry.get_sample_value(consumed, {"source": "civil"}) is None
    # each app serves its own pages (the state gauges of its own collector among its metrics)
    for service in (one, two):
        names = {f.name for f in service.metrics.registry.collect()}
        assert {"motcua_open_dossiers", "motcua_consumer_lag_messages"} <= names
        routes = {path for path, _ in service.app.web.views.items()}
        assert {"/api/units", "/health", "/metrics", "/api/dossiers/{code}"} <= routes
