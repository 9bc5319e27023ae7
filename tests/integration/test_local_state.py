"""The judge's local state on disk (RocksDB, the worker's default) with real workers and a real
broker: the contract's sample feed with two workers (each a standby of the other's partitions),
a worker killed (-9) mid-feed and restarted on its kept state (it reads only the changelog's
tail), a second worker refused a directory in use, and the in-memory store still there.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from hub import testing
from hub.domain.alerts import Alert
from hub.settings import Settings
from hub.stream.rocks import RocksStore
from hub.testing import LocalBroker, Process, committed_offsets, end_offsets, produce
from hub.topics import DOSSIER_EVENTS, INBOUND_TOPICS, changelog_topic
from tests.integration.harness import wait_for_alerts
from tests.integration.test_worker_samples import (
    in_schedule_order,
    key_of,
    without_late_data_retractions,
)
from tests.integration.test_worker_samples import (
    worker_env as samples_env,
)
from tests.samples import expected_keys

pytestmark = pytest.mark.kafka
APP = "samples"
RESTORED = re.compile(r"restored partitions \[([\d, ]*)\] from \S+: (\d+) records")


def _env(kafka: Settings, data: Path, port: int, **fields: object) -> dict[str, str]:
    env = samples_env(kafka, data)
    env |= testing.settings_env(web_port=port, **fields)  # a fixed port: the same instance
    return env


def _restores(worker: Process) -> list[tuple[list[int], int]]:
    text = worker.log.read_text(errors="replace")
    return [
        ([int(p) for p in parts.split(",") if p.strip()], int(n))
        for parts, n in RESTORED.findall(text)
    ]


def _wait_committed(bootstrap: str, group: str, topics: list[str], deadline: float) -> None:
    ends = asyncio.run(end_offsets(bootstrap, topics))
    while time.monotonic() < deadline:
        done = asyncio.run(committed_offsets(bootstrap, group))
        if all(done.get(tp, 0) >= end for tp, end in ends.items()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{group} did not catch up")


def _wait_judged(bootstrap: str, timeout: float = 90.0) -> None:
    """Until the intake has committed every inbound message so far, and the judge every
    record the intake wrote."""
    deadline = time.monotonic() + timeout
    _wait_committed(bootstrap, f"{APP}-intake", list(INBOUND_TOPICS.values()), deadline)
    _wait_committed(bootstrap, f"{APP}-judge", [DOSSIER_EVENTS], deadline)


def _check_contract(alerts: list[Alert]) -> None:
    kept = without_late_data_retractions(alerts)
    assert sorted(key_of(a) for a in kept) == expected_keys()
    repeated = Counter((a.alert_id, a.state.value, a.details.get("reason")) for a in alerts)
    assert [k for k, n in repeated.items() if n > 1] == []  # nothing twice


def _stores(data: Path) -> list[Path]:
    return sorted(data.glob(f"worker-data/{APP}/*/dossiers"))  # samples_env puts it there


def test_two_workers_on_disk_each_a_standby_of_the_other(tmp_path: Path) -> None:
    with LocalBroker(tmp_path / "broker") as kafka:
        boot = kafka.settings.kafka_bootstrap
        ports = testing.free_ports(2)
        data = [tmp_path / "w0", tmp_path / "w1"]
        workers = [
            testing.start_worker(_env(kafka.settings, data[i], ports[i]), tmp_path / f"w{i}.log")
            for i in range(2)
        ]
        try:
            for w in workers:
                w.wait_ready()
            asyncio.run(produce(boot, in_schedule_order()))
            alerts = wait_for_alerts(boot, at_least=len(expected_keys()))
            _wait_judged(boot)
            time.sleep(3.0)  # the standbys catch up (they read every 0.2 s)
            changelog_ends = asyncio.run(end_offsets(boot, [changelog_topic(APP)]))
            judged = [sorted({p for parts, _ in _restores(w) for p in parts}) for w in workers]
            assert all(judged), judged  # both judge, so each follows the other's partitions
            # worker 0 leaves: worker 1 takes its partitions over from its standby copy
            before = len(_restores(workers[1]))
            assert workers[0].stop(), "a graceful stop"
            deadline = time.monotonic() + 60
            while len(_restores(workers[1])) == before and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            stopped = [w.stop() for w in workers]
        assert all(stopped), "graceful stops"
        assert sorted(set(judged[0]) | set(judged[1])) == list(range(6)), judged
        assert all(w.logged("standby for partitions [") for w in workers)
        # reading only what it had not followed yet: no whole changelog
        taken, read = _restores(workers[1])[-1]
        assert sorted(set(taken) | set(judged[1])) == list(range(6)), (taken, judged)
        assert read < sum(changelog_ends.values()) / 4, (taken, read, changelog_ends)
    _check_contract(alerts)
    # each worker's store holds every partition: those it judged, and the other's as a standby,
    # with the same dossiers
    counts = []
    for d in data:
        (path,) = _stores(d)
        store = RocksStore(path, 8)
        try:
            assert store.partitions() == set(range(6))
            counts.append({p: s.count for p in range(6) if (s := store.stored(p)) is not None})
        finally:
            store.close()
    assert counts[0] == counts[1] and sum(counts[0].values()) > 0
    assert sum(changelog_ends.values()) > 0


def test_killed_and_restarted_on_its_kept_state(tmp_path: Path) -> None:
    feed = in_schedule_order()
    half = len(feed) // 2
    with LocalBroker(tmp_path / "broker") as kafka:
        boot = kafka.settings.kafka_bootstrap
        # small batches: the judge writes a dossier's state once per batch, and the changelog
        # must be long enough that reading only its tail shows (with 500-record batches a
        # fast judge takes the half feed in a few, and writes too little to tell)
        env = _env(kafka.settings, tmp_path / "data", testing.free_ports(1)[0], batch_max=10)
        first = testing.start_worker(env, tmp_path / "first.log")
        restarted: Process | None = None
        try:
            first.wait_ready()
            asyncio.run(produce(boot, feed[:half]))
            _wait_judged(boot)
            first.popen.kill()  # SIGKILL: the store is closed by no one
            first.popen.wait(10)
            changelog = sum(asyncio.run(end_offsets(boot, [changelog_topic(APP)])).values())
            restarted = testing.start_worker(env, tmp_path / "restarted.log")
            restarted.wait_ready()
            restarted.wait_log("restored partitions", 60)
            asyncio.run(produce(boot, feed[half:]))
            alerts = wait_for_alerts(boot, at_least=len(expected_keys()))
        finally:
            first.stop()
            if restarted is not None:
                restarted.stop()
        assert restarted is not None
        (restore,) = _restores(restarted)
        assert restore[0] == list(range(6))
        # a store at most a batch behind: the tail only, not the changelog's whole history
        assert changelog > 50 and restore[1] < changelog / 4, (restore, changelog)
        assert len(_stores(tmp_path / "data")) == 1  # the same instance, the same directory
    _check_contract(alerts)


def test_a_second_worker_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with LocalBroker(tmp_path / "broker") as kafka:
        env = _env(kafka.settings, tmp_path / "data", testing.free_ports(1)[0])
        with testing.running_worker(env, tmp_path / "first.log"):
            second = testing.start_worker(env, tmp_path / "second.log")
            assert second.popen.wait(60) == 2
            assert "in use by pid" in second.tail()


def test_the_in_memory_store_still_judges_the_feed(tmp_path: Path) -> None:
    with LocalBroker(tmp_path / "broker") as kafka:
        env = _env(kafka.settings, tmp_path / "data", testing.free_ports(1)[0])
        env |= testing.settings_env(state_store="memory")
        with testing.running_worker(env, tmp_path / "worker.log"):
            asyncio.run(produce(kafka.settings.kafka_bootstrap, in_schedule_order()))
            alerts = wait_for_alerts(kafka.settings.kafka_bootstrap, at_least=len(expected_keys()))
        assert _stores(tmp_path / "data") == []
    _check_contract(alerts)
