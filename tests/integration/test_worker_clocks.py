"""A real worker under the wall clock, a replay into a fresh application id, and a crash.

Each test gets a broker of its own (see test_worker_samples.own_broker).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from hub.codec import decode_alert
from hub.domain.alerts import Alert
from hub.domain.calendar import TZ, WorkingCalendar
from hub.settings import DATA_DIR, Settings
from hub.simulate.formats import TOPICS as SIM_TOPICS
from hub.simulate.province import SimConfig, Simulation, load_catalogue
from hub.simulate.publish import iter_rendered, message_key
from hub.testing import end_offsets, produce, read_topic, running_worker, start_worker
from hub.topics import ALERTS
from tests.integration.harness import wait_for_alerts
from tests.integration.test_worker_samples import (
    expected_keys,
    in_schedule_order,
    key_of,
    own_broker,  # noqa: F401  (fixture)
    without_late_data_retractions,
    worker_env,
)

pytestmark = pytest.mark.kafka
CODE = "000.00.12.H49-261126-9001"


def stamp(t: datetime) -> str:
    return t.astimezone(TZ).strftime("%Y%m%d%H%M%S")


def snapshot(received: datetime, due: datetime) -> bytes:
    item = {
        "MaHoSo": CODE,
        "MaTTHC": "1.013831",
        "KenhThucHien": "2",
        "NgayTiepNhan": stamp(received),
        "NgayHenTra": stamp(due),
        "TrangThaiHoSo": "2",
        "DonViXuLy": "Chi nhánh Văn phòng đăng ký đất đai Thăng Bình",
    }
    return json.dumps({"service": "DongBoHoSoMC", "isUpdating": False, "data": [item]}).encode()


def closing_step(at: datetime) -> bytes:
    item = {
        "MaHoSo": CODE,
        "NguoiXuLy": "Lý Văn Sơn",
        "PhongBanXuLy": "Bộ phận Tiếp nhận và Trả kết quả",
        "ThoiDiemXuLy": stamp(at),
        "TrangThai": "10",
    }
    return json.dumps({"service": "CapNhatTienDoHoSoMC", "data": [item]}).encode()


def test_wall_clock_raises_when_the_due_time_passes_with_no_message(
    own_broker: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {
        **worker_env(own_broker, tmp_path, "wall"),
        "MOTCUA_CLOCK": "wall",
        "MOTCUA_ALLOWED_LATENESS_S": "0",
        "MOTCUA_TICK_INTERVAL_S": "0.5",
    }
    bootstrap = own_broker.kafka_bootstrap
    with running_worker(env, tmp_path / "worker.log"):
        now = datetime.now(TZ).replace(microsecond=0)
        due = now + timedelta(seconds=15)
        asyncio.run(
            produce(
                bootstrap,
                [("agency.onestop.status", None, snapshot(now - timedelta(hours=2), due))],
            )
        )
        # nothing else is sent: the tick alone must raise it
        alerts = wait_for_alerts(bootstrap, at_least=2, quiet_s=2, timeout=60)
        raised = {a.type.value: a for a in alerts if a.state.value == "RAISED"}
        assert set(raised) == {"PROCESSING_LATE", "APOLOGY_MISSING"}
        assert raised["PROCESSING_LATE"].condition_at == due
        seen_after = (datetime.now(TZ) - due).total_seconds()
        print(f"PROCESSING_LATE read {seen_after:.1f} s after its due time")
        closed_at = datetime.now(TZ).replace(microsecond=0)
        asyncio.run(produce(bootstrap, [("agency.onestop.status", None, closing_step(closed_at))]))
        alerts = wait_for_alerts(bootstrap, at_least=3, quiet_s=2, timeout=60)
    resolved = [a for a in alerts if a.state.value == "RESOLVED"]
    assert [(a.type.value, a.condition_at) for a in resolved] == [("PROCESSING_LATE", closed_at)]
    assert resolved[0].alert_id == raised["PROCESSING_LATE"].alert_id
    assert len([a for a in alerts if a.type.value == "PROCESSING_LATE"]) == 2


def simulated_feed(days: int = 28, dossiers: int = 250) -> list[tuple[str, bytes | None, bytes]]:
    calendar = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
    sim = Simulation(
        SimConfig(seed=11, dossiers=dossiers, start=date(2026, 10, 5), days=days),
        load_catalogue(DATA_DIR / "procedures.csv"),
        calendar,
    )
    return [(SIM_TOPICS[m.source], message_key(m), raw) for m, raw in iter_rendered(sim)]


def identities(alerts: list[Alert]) -> list[tuple[str, str, datetime]]:
    return sorted((a.alert_id, a.state.value, a.condition_at) for a in alerts)


def test_replay_into_a_fresh_application_gives_the_same_alerts(
    own_broker: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    bootstrap = own_broker.kafka_bootstrap
    feed = simulated_feed()
    with running_worker(worker_env(own_broker, tmp_path, "live"), tmp_path / "live.log"):
        asyncio.run(produce(bootstrap, feed))
        live = wait_for_alerts(bootstrap, at_least=1, quiet_s=8, timeout=240)
    mark = asyncio.run(end_offsets(bootstrap, [ALERTS]))
    with running_worker(worker_env(own_broker, tmp_path, "replay"), tmp_path / "replay.log"):
        replay = wait_for_alerts(bootstrap, at_least=len(live), start=mark, quiet_s=8, timeout=240)
    print(f"{len(feed)} messages, {len(live)} transitions live, {len(replay)} in the replay")
    assert len(live) > 50
    assert identities(without_late_data_retractions(replay)) == identities(
        without_late_data_retractions(live)
    )


def test_a_killed_worker_loses_no_alert(own_broker: Settings, tmp_path: Path) -> None:  # noqa: F811
    """kill -9 in the middle of the sample feed, restart: every expected transition arrives;
    duplicates (at-least-once) are counted and reported, not hidden."""
    bootstrap = own_broker.kafka_bootstrap
    env = worker_env(own_broker, tmp_path, "crash")
    records = in_schedule_order()
    half = len(records) // 2
    worker = start_worker(env, tmp_path / "first.log")
    try:
        worker.wait_ready()
        asyncio.run(produce(bootstrap, records[:half]))
        time.sleep(2.0)
        worker.stop(signal.SIGKILL)
    finally:
        worker.stop(signal.SIGKILL)
    asyncio.run(produce(bootstrap, records[half:]))
    with running_worker(env, tmp_path / "second.log"):
        alerts = wait_for_alerts(bootstrap, at_least=len(expected_keys()), quiet_s=8, timeout=240)
    keys = [key_of(a) for a in without_late_data_retractions(alerts)]
    assert sorted(set(keys)) == expected_keys()
    duplicates = len(keys) - len(set(keys))
    print(f"after kill -9: {len(alerts)} transitions, {duplicates} duplicates")
    records_out = asyncio.run(read_topic(bootstrap, ALERTS))
    assert all(decode_alert(r.value).alert_id for r in records_out if r.value)
    # the state the restart recovered from: one changelog record per dossier state written
    changelog = asyncio.run(read_topic(bootstrap, "crash-dossiers-changelog"))
    states = {r.key for r in changelog if r.key and not r.key.startswith(b"\x00")}
    assert len(states) >= 40  # the feed's dossiers
