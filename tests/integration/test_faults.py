"""Faults against a real broker: every output record exactly once (issue 9).

A simulated three-week feed of a province (all four systems, with duplicates, late and
malformed messages) is produced at a steady pace while workers are killed, join, leave and are
stopped, and while the broker itself is stopped and started again. Then the three streams the hub
writes, read committed as their consumers read them, are compared with those of an undisturbed
run of the same feed:

- hub.dossier.events: the common events the intake wrote (each inbound message's events) — the
  same multiset, so none lost and none twice;
- hub.deadletter: one record per (source topic, partition, offset, item) — the same multiset;
- hub.alerts: the transitions that stand (late-data retractions set aside, since which events
  a judge meets first depends on timing) — the same multiset; and no (alert id, state, reason)
  twice in the raw stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub import testing
from hub.codec import decode_alert, decode_event
from hub.domain.alerts import Alert
from hub.domain.calendar import WorkingCalendar
from hub.protocol import ENTERED_HEADER, parse_dead_letter_headers
from hub.settings import DATA_DIR
from hub.simulate.formats import TOPICS, render
from hub.simulate.province import SimConfig, Simulation, load_catalogue
from hub.simulate.publish import message_key
from hub.testing import LocalBroker, Process, Record, committed_offsets, end_offsets
from hub.topics import ALERTS, DEADLETTER, DOSSIER_EVENTS, INBOUND_TOPICS

pytestmark = pytest.mark.kafka
APP = "faults"
PACE_S = 16.0  # the feed is produced over this long, so faults land mid-feed
SECURITY = "QNAM-VBDLIS-7f3a9c"
PROVENANCE = {"source_topic", "source_partition", "source_offset"}
RESULTS = Path(__file__).resolve().parents[2] / "test-output" / "faults.jsonl"


def feed() -> list[Record]:
    cfg = SimConfig(seed=11, dossiers=220, days=21, start=date(2026, 11, 2), security_code=SECURITY)
    calendar = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
    sim = Simulation(cfg, load_catalogue(DATA_DIR / "procedures.csv"), calendar)
    return [
        (TOPICS[m.source], message_key(m), render(m, security_code=SECURITY, max_bytes=524288))
        for m in sim.messages()
    ]


FEED = feed()


@dataclass
class Outputs:
    events: Counter[tuple[bytes | None, str]]
    dead: Counter[tuple[str, str, str, int | None]]
    alerts: list[Alert]

    @property
    def standing(self) -> Counter[tuple[str, str, str, Any]]:
        retracted = {a.alert_id for a in self.alerts if a.details.get("reason") == "late-data"}
        return Counter(
            (a.type.value, a.state.value, a.dossier_code, a.condition_at)
            for a in self.alerts
            if a.alert_id not in retracted
        )

    @property
    def repeated(self) -> list[tuple[str, str, str | None]]:
        seen = Counter((a.alert_id, a.state.value, a.details.get("reason")) for a in self.alerts)
        return [k for k, n in seen.items() if n > 1]


class Scenario:
    """A broker of its own, the feed produced at a pace, workers started and stopped."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.dir = tmp_path / name
        self.kafka = LocalBroker(self.dir / "broker")
        self.ports = testing.free_ports(2)
        self.workers: dict[int, Process] = {}
        self.producing: threading.Thread | None = None
        self.session_timeout_s = 30.0

    @property
    def boot(self) -> str:
        return self.kafka.bootstrap

    def env(self, n: int) -> dict[str, str]:
        return testing.worker_env(
            self.boot,
            self.dir / f"worker{n}",
            session_timeout_s=self.session_timeout_s,
            transaction_timeout_s=self.session_timeout_s * 2 / 3,
            web_port=self.ports[n],  # with the instance id: the same name after a restart
            app_id=APP,
            clock="event",
            idle_timeout_s=3,
            tick_interval_s=0.5,
            land_security_code=SECURITY,
            max_event_lead_s=100 * 365 * 86_400,  # the feed is dated November 2026
            # the judge's state on disk, kept across restarts (the same instance, the same
            # directory): a restarted worker reads only the changelog's tail
            state_store="rocksdb",
        )

    def start(self, n: int = 0) -> Process:
        worker = testing.start_worker(self.env(n), self.dir / f"worker{n}-{time.time():.0f}.log")
        worker.wait_ready()
        self.workers[n] = worker
        return worker

    def produce(self, pace_s: float = PACE_S, records: list[Record] = FEED) -> None:
        def run() -> None:
            chunks = 20
            size = -(-len(records) // chunks)
            for i in range(chunks):
                asyncio.run(testing.produce(self.boot, records[i * size : (i + 1) * size]))
                time.sleep(pace_s / chunks)

        self.producing = threading.Thread(target=run, daemon=True)
        self.producing.start()

    def wait_done(self, timeout: float = 240.0) -> float:
        """Until the intake has committed the whole feed, the judge every event written by
        then, and no alert came for a few seconds; the seconds it took."""
        started = time.monotonic()
        assert self.producing is not None
        self.producing.join(timeout)
        ends = {tp: e for tp, e in _run(end_offsets(self.boot, INBOUND_TOPICS.values())).items()}
        deadline = started + timeout
        while time.monotonic() < deadline:
            done = _run(committed_offsets(self.boot, f"{APP}-intake"))
            if all(done.get(tp, 0) >= e for tp, e in ends.items()):
                break
            time.sleep(1.0)
        events_end = _run(end_offsets(self.boot, [DOSSIER_EVENTS]))
        while time.monotonic() < deadline:
            judged = _run(committed_offsets(self.boot, f"{APP}-judge"))
            if all(judged.get(tp, 0) >= e for tp, e in events_end.items()):
                break
            time.sleep(1.0)
        count, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:  # the idle partitions let the last alerts out
            now = len(_run(testing.read_topic(self.boot, ALERTS)))
            if now != count:
                count, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > 8:
                break
            time.sleep(1.0)
        return time.monotonic() - started

    def outputs(self) -> Outputs:
        # Identities without the inbound partition and offset: messages without a key land on
        # a partition of the producer's choosing, which differs from run to run.
        events: Counter[tuple[bytes | None, str]] = Counter()
        for r in _read_committed(self.boot, DOSSIER_EVENTS):
            if r.value is not None and any(h == ENTERED_HEADER for h, _ in r.headers):
                ev = decode_event(r.value)  # the intake's: they carry when they came in
                events[(r.key, ev.model_dump_json(exclude=PROVENANCE))] += 1
        dead: Counter[tuple[str, str, str, int | None]] = Counter()
        for r in _read_committed(self.boot, DEADLETTER):
            d = parse_dead_letter_headers(r.headers)
            dead[(d.topic, d.reason, hashlib.sha256(r.value or b"").hexdigest(), d.item)] += 1
        alerts = [decode_alert(r.value) for r in _read_committed(self.boot, ALERTS) if r.value]
        return Outputs(events, dead, alerts)

    def close(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.kafka.stop()


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _written(records: list[Any]) -> int:
    """Records written in transactions (clock records, which go on being sent, left out)."""
    return sum(1 for r in records if r.topic != DOSSIER_EVENTS or (r.value and r.key))


def _read_committed(boot: str, topic: str) -> list[Any]:
    return _run(testing.read_topic(boot, topic))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    """The undisturbed run: one worker, the whole feed."""
    run = Scenario(tmp_path_factory.mktemp("faults"), "reference")
    with run.kafka:
        try:
            run.start()
            run.produce(pace_s=2.0)
            run.wait_done()
            out = run.outputs()
        finally:
            for worker in run.workers.values():
                worker.stop()
    assert out.events and out.dead and out.alerts, "the feed makes events, dead letters, alerts"
    assert not out.repeated
    return out


@pytest.fixture
def scenario(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    run = Scenario(tmp_path, request.node.name)
    run.kafka.start()
    try:
        yield run
    finally:
        run.close()


def _check(
    name: str,
    run: Scenario,
    reference: Outputs,
    took: float,
    *,
    duplicates_allowed: bool = False,
    **figures: Any,
) -> None:
    got = run.outputs()
    # what the aborted transactions (a worker killed mid-batch) left in the log, unseen by
    # read-committed readers: the faults did strike mid-transaction
    aborted = sum(
        _written(_run(testing.read_topic(run.boot, t, isolation_level="read_uncommitted")))
        - _written(_read_committed(run.boot, t))
        for t in (DOSSIER_EVENTS, ALERTS, DEADLETTER)
    )
    lost_events = reference.events - got.events
    extra_events = got.events - reference.events
    lost_dead = reference.dead - got.dead
    extra_dead = got.dead - reference.dead
    lost_alerts = reference.standing - got.standing
    extra_alerts = got.standing - reference.standing
    line = {
        "scenario": name,
        "records_compared": sum(reference.events.values())
        + sum(reference.dead.values())
        + len(reference.alerts),
        "events": sum(got.events.values()),
        "dead_letters": sum(got.dead.values()),
        "alerts": len(got.alerts),
        "lost": sum(lost_events.values()) + sum(lost_dead.values()) + sum(lost_alerts.values()),
        "duplicated": sum(extra_events.values()) + sum(extra_dead.values()) + len(got.repeated),
        "aborted_records_skipped": aborted,
        "seconds_to_done": round(took, 1),
        **figures,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    if lost_events or lost_dead or lost_alerts or extra_alerts or got.repeated:
        _keep_evidence(name, run, reference, got, set(lost_alerts) | set(extra_alerts))
    assert not lost_events and not lost_dead and not lost_alerts, "records lost"
    if duplicates_allowed:
        return
    assert not extra_events, len(extra_events)
    assert not extra_dead, extra_dead
    assert not got.repeated, got.repeated[:5]
    assert not extra_alerts, extra_alerts


def _keep_evidence(
    name: str, run: Scenario, reference: Outputs, got: Outputs, differing: set[Any]
) -> None:
    """What a failed comparison needs to be understood after the run's directory is gone:
    every alert of the dossiers whose standing alerts differ, from both runs, and the workers'
    logs, under test-output/."""
    codes = {d[2] for d in differing} | {
        a.dossier_code for a in got.alerts if a.alert_id in {k[0] for k in got.repeated}
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    folder = RESULTS.parent / f"faults-{slug}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)

    def rows(alerts: list[Alert]) -> list[dict[str, Any]]:
        return [a.model_dump(mode="json") for a in alerts if a.dossier_code in codes]

    evidence = {"differing": [list(map(str, d)) for d in sorted(differing, key=str)]}
    evidence |= {"reference": rows(reference.alerts), "got": rows(got.alerts)}
    (folder / "alerts.json").write_text(json.dumps(evidence, indent=1, ensure_ascii=False))
    for log in run.dir.glob("worker*.log"):
        (folder / log.name).write_bytes(log.read_bytes())


def _during_feed(run: Scenario, at: list[float], fault: Callable[[int], None]) -> None:
    started = time.monotonic()
    for i, t in enumerate(at):
        time.sleep(max(0.0, started + t - time.monotonic()))
        fault(i)


def test_kill_9_at_several_points(scenario: Scenario, reference: Outputs) -> None:
    scenario.start()
    scenario.produce()
    recoveries: list[float] = []

    restored: list[int] = []

    def kill(_: int) -> None:
        scenario.workers[0].popen.kill()  # SIGKILL: no goodbye, an open transaction left
        scenario.workers[0].popen.wait(10)
        began = time.monotonic()
        worker = scenario.start()
        recoveries.append(round(time.monotonic() - began, 1))
        worker.wait_log("restored partitions", 60)
        restored.append(_restored_records(worker))

    _during_feed(scenario, [3.0, 8.0, 13.0], kill)
    took = scenario.wait_done()
    changelog = sum(_run(end_offsets(scenario.boot, [f"{APP}-dossiers-changelog"])).values())
    _check(
        "kill -9 x3",
        scenario,
        reference,
        took,
        restart_to_ready_s=recoveries,
        changelog_records_read_at_restart=restored,
        changelog_records=changelog,
    )
    # each restart found its store on disk, at most a batch behind: it read a tail
    assert all(n < changelog / 2 for n in restored), (restored, changelog)


def _restored_records(worker: Process) -> int:
    """The changelog records the worker's judge read back as its partitions were assigned."""
    found = re.findall(r"restored partitions .*?: (\d+) records", worker.log.read_text())
    return sum(int(n) for n in found)


def test_a_worker_joins_and_one_leaves(scenario: Scenario, reference: Outputs) -> None:
    scenario.start(0)
    scenario.produce()

    def step(i: int) -> None:
        if i == 0:
            scenario.start(1)  # joins: the partitions are shared out
        else:
            scenario.workers[0].stop()  # leaves (SIGTERM): worker 1 takes them all

    _during_feed(scenario, [4.0, 11.0], step)
    took = scenario.wait_done()
    _check("join then leave", scenario, reference, took)


def test_the_broker_stopped_and_started_again(scenario: Scenario, reference: Outputs) -> None:
    scenario.start()
    half = len(FEED) // 2
    scenario.produce(pace_s=6.0, records=FEED[:half])
    assert scenario.producing is not None
    scenario.producing.join(60)
    scenario.kafka.stop()  # mid-feed, the worker busy with the first half: its clients fail
    time.sleep(3.0)
    began = time.monotonic()
    scenario.kafka.start()
    scenario.produce(pace_s=6.0, records=FEED[half:])
    took = scenario.wait_done(timeout=300.0)
    back = round(time.monotonic() - began, 1)
    _check("broker restart", scenario, reference, took, broker_down_s=3.0, back_to_done_s=back)


def test_sigterm_mid_feed(scenario: Scenario, reference: Outputs) -> None:
    scenario.start()
    scenario.produce()

    def term(_: int) -> None:
        assert scenario.workers[0].stop(), "a graceful stop within 30 s"
        scenario.start()

    _during_feed(scenario, [6.0], term)
    took = scenario.wait_done()
    _check("SIGTERM", scenario, reference, took)


def test_a_worker_stalled_past_its_session_comes_back(
    scenario: Scenario, reference: Outputs
) -> None:
    """SIGSTOP: the worker's partitions go to the other; SIGCONT: it comes back. It must not
    judge on with the state it had (the others judged its partitions meanwhile), nor commit the
    batch it was stopped in (its transaction timed out; a commit of offsets from its stale
    generation is refused: hub/stream/fencing.py): nothing lost, nothing twice."""
    scenario.session_timeout_s = 6.0
    scenario.start(0)
    scenario.start(1)
    scenario.produce()
    time.sleep(4.0)
    stalled = scenario.workers[0].popen
    stalled.send_signal(signal.SIGSTOP)
    time.sleep(scenario.session_timeout_s + 6.0)
    stalled.send_signal(signal.SIGCONT)
    took = scenario.wait_done()
    _check(
        "stalled past the session (SIGSTOP/SIGCONT)",
        scenario,
        reference,
        took,
        stalled_s=scenario.session_timeout_s + 6.0,
    )
