"""Shared fixtures. Tests marked ``@pytest.mark.kafka`` talk to a real broker: a dedicated
single-node Kafka that ``hub.broker`` starts once per session on free ports with its own data
dir (jars from the usual Maven cache, ~/.cache/motcua-hub), stopped at the end of the session.

    @pytest.mark.kafka
    async def test_x(kafka_topics: str, kafka_settings: Settings) -> None: ...

``kafka_bootstrap`` is the broker's address, ``kafka_topics`` the same once the hub's topics
exist, ``kafka_settings`` Settings pointing at it, ``kafka_env`` MOTCUA_* variables for a
subprocess (the CLI, a worker).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub import broker
from hub.settings import Settings
from hub.topics import create_topics


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (all sockets held until every port is picked)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def broker_settings(data_dir: Path) -> Settings:
    port, controller_port = free_ports(2)
    return Settings(
        data_dir=data_dir,
        broker_port=port,
        broker_controller_port=controller_port,
        kafka_bootstrap=f"127.0.0.1:{port}",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a test marked kafka gets the broker even if it only asks for kafka_settings
    for item in items:
        if item.get_closest_marker("kafka") is not None:
            item.add_marker(pytest.mark.usefixtures("kafka_bootstrap"))


@pytest.fixture(scope="session")
def kafka_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return broker_settings(tmp_path_factory.mktemp("motcua-broker"))


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_settings: Settings) -> Iterator[str]:
    try:
        yield broker.start(kafka_settings)
    finally:
        broker.stop(kafka_settings)


@pytest.fixture(scope="session")
def kafka_topics(kafka_bootstrap: str, kafka_settings: Settings) -> str:
    """The broker, with the hub's topics created."""
    asyncio.run(create_topics(kafka_settings))
    return kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_env(kafka_bootstrap: str, kafka_settings: Settings) -> dict[str, str]:
    """Environment variables that point a subprocess (motcua-hub ...) at the test broker."""
    return {
        "MOTCUA_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "MOTCUA_DATA_DIR": str(kafka_settings.data_dir),
        "MOTCUA_BROKER_PORT": str(kafka_settings.broker_port),
        "MOTCUA_BROKER_CONTROLLER_PORT": str(kafka_settings.broker_controller_port),
    }
