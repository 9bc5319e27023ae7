"""The hub against a broker that requires SASL_SSL (issue 13, item 3).

A broker of its own whose only client listener is SASL_SSL: SCRAM-SHA-512 users and a CA and a
broker certificate made at test time (hub.testing.LocalBroker(sasl_ssl=True)). `topics create`,
a worker, the simulator and `alerts tail` all run against it, as subprocesses configured only by
MOTCUA_* variables, and alerts come out. A wrong password and an untrusted CA each stop the
commands at once, exit status not 0, with a message that names the cause; no secret is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from hub.domain.alerts import Alert
from hub.testing import LocalBroker, make_tls, start_worker, worker_env
from hub.topics import topic_partitions

pytestmark = pytest.mark.kafka
CLI = (sys.executable, "-c", "from hub.cli import main; main()")


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path_factory.mktemp("secure"), topics=False, sasl_ssl=True) as kafka:
        yield kafka


def cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_the_hub_runs_over_sasl_ssl(secure: LocalBroker, tmp_path: Path) -> None:
    env = secure.env()
    password = env["MOTCUA_KAFKA_SASL_PASSWORD"]
    assert env["MOTCUA_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"

    made = cli(env, "topics", "create")
    assert made.returncode == 0, made.stderr
    assert f"{len(topic_partitions(secure.settings))} created" in made.stdout

    worker = start_worker({**env, **worker_env(secure.bootstrap, tmp_path / "worker")},
                          tmp_path / "worker.log")  # fmt: skip
    try:
        worker.wait_ready()
        fed = cli(env, "simulate", "--seed", "5", "--dossiers", "40", "--days", "12")
        assert fed.returncode == 0, fed.stderr
        assert json.loads(fed.stdout)["messages"] > 40

        alerts: list[Alert] = []
        deadline = time.monotonic() + 60
        while not alerts and time.monotonic() < deadline:
            tail = cli(env, "alerts", "tail", "--from-beginning", "--json",
                       "--exit-when-idle", "4")  # fmt: skip
            assert tail.returncode == 0, tail.stderr
            alerts = [Alert.model_validate_json(line) for line in tail.stdout.splitlines()]
        assert alerts, f"no alert came out over SASL_SSL; worker log:\n{worker.tail()}"
        assert worker.popen.poll() is None
        assert "Authenticated as motcua-hub via SCRAM-SHA-512" in worker.log.read_text()
    finally:
        worker.stop()
    for output in (made.stdout + made.stderr, fed.stdout + fed.stderr, worker.tail(10**7)):
        assert password not in output


def test_a_wrong_password_is_named(secure: LocalBroker, tmp_path: Path) -> None:
    wrong = "not-the-password-" + "x" * 8
    env = {**secure.env(), "MOTCUA_KAFKA_SASL_PASSWORD": wrong}
    runs = {
        "topics create": cli(env, "topics", "create"),
        "alerts tail": cli(env, "alerts", "tail", "--exit-when-idle", "1"),
        "simulate": cli(env, "simulate", "--dossiers", "2", "--days", "1"),
        "worker": cli({**env, **worker_env(secure.bootstrap, tmp_path / "w")}, "worker"),
    }
    for name, run in runs.items():
        assert run.returncode != 0, f"{name} went on with a wrong password"
        assert "SASL authentication failed" in run.stderr, f"{name}: {run.stderr[-2000:]}"
        assert "MOTCUA_KAFKA_SASL_PASSWORD" in run.stderr
        assert wrong not in run.stdout + run.stderr, f"{name} printed the password"


def test_an_untrusted_certificate_is_named(secure: LocalBroker, tmp_path: Path) -> None:
    stranger = make_tls(tmp_path / "other-ca", "stranger")  # a CA that did not sign the broker's
    env = {**secure.env(), "MOTCUA_KAFKA_SSL_CAFILE": str(stranger.ca)}
    runs = {
        "topics create": cli(env, "topics", "create"),
        "alerts tail": cli(env, "alerts", "tail", "--exit-when-idle", "1"),
    }
    for name, run in runs.items():
        assert run.returncode != 0, f"{name} trusted a certificate it should not"
        assert "TLS: the certificate of Kafka" in run.stderr, f"{name}: {run.stderr[-2000:]}"
        assert "not trusted" in run.stderr and "MOTCUA_KAFKA_SSL_CAFILE" in run.stderr
