"""`motcua-hub demo` end to end: its own broker, a worker, the simulated province, the web port;
alerts appear on hub.alerts; SIGINT (Ctrl-C) leaves no process behind and stops the broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hub import broker
from hub.codec import decode_alert
from hub.settings import Settings
from hub.testing import free_ports, read_topic
from hub.topics import ALERTS

pytestmark = pytest.mark.kafka


def _wait_for(predicate: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(1.0)
    raise AssertionError(f"{what} within {timeout:.0f} s; demo output:\n{log.read_text()[-4000:]}")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _processes_with(marker: bytes) -> list[int]:
    """Live processes whose environment or command line mentions `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            blob = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
            if marker in blob and _alive(int(proc.name)):
                found.append(int(proc.name))
    return found


def _web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _alerts(bootstrap: str) -> int:
    records = asyncio.run(read_topic(bootstrap, ALERTS))
    return sum(1 for r in records if r.value is not None and decode_alert(r.value))


@pytest.mark.timeout(420)
def test_demo_alerts_web_and_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    port, controller, web = free_ports(3)
    settings = Settings(
        data_dir=data,
        broker_port=port,
        broker_controller_port=controller,
        kafka_bootstrap=f"127.0.0.1:{port}",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env |= {
        "MOTCUA_DATA_DIR": str(data),
        "MOTCUA_BROKER_PORT": str(port),
        "MOTCUA_BROKER_CONTROLLER_PORT": str(controller),
        "MOTCUA_WEB_PORT": str(web),
    }
    log = tmp_path / "demo.out"
    cli = str(Path(sys.executable).parent / "motcua-hub")
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [cli, "demo", "--speed", "3600", "--dossiers", "2000", "--seconds", "300"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    worker_pid: int | None = None
    broker_pid: int | None = None
    try:
        _wait_for(lambda: "demo is running" in log.read_text(), 200, "the demo did not start", log)
        found = re.search(r"worker started \(pid (\d+)\)", log.read_text())
        assert found, log.read_text()
        worker_pid = int(found.group(1))
        broker_pid = broker.status(settings).pid
        assert broker_pid is not None and _alive(broker_pid)

        _wait_for(lambda: _web_answers(web), 60, "the web port did not answer", log)
        _wait_for(lambda: _alerts(settings.kafka_bootstrap) > 0, 150, "no alert", log)
        assert demo.poll() is None, log.read_text()

        demo.send_signal(signal.SIGINT)
        assert demo.wait(120) == 0, log.read_text()[-4000:]
        assert "demo stopped" in log.read_text()
        assert not _alive(worker_pid), "the worker survived"
        assert not _alive(broker_pid), "the broker survived"
        assert not broker.status(settings).running
        assert _processes_with(str(data).encode()) == [], "processes left behind"
        assert not _web_answers(web)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(30)
        for pid in (worker_pid,):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        broker.stop(settings)
