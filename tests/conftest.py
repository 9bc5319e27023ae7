"""Shared fixtures. Tests marked ``@pytest.mark.kafka`` talk to a real broker: a dedicated
single-node Kafka (``hub.testing.LocalBroker``) started once per session on free ports with its
own data dir (jars from the usual Maven cache, ~/.cache/motcua-hub), stopped at the end of the
session. Tests that need a broker of their own use ``hub.testing`` directly.

    @pytest.mark.kafka
    async def test_x(kafka_topics: str, kafka_settings: Settings) -> None: ...

``kafka_bootstrap`` is the broker's address, ``kafka_topics`` the same once the hub's topics
exist, ``kafka_settings`` Settings pointing at it, ``kafka_env`` MOTCUA_* variables for a
subprocess (the CLI, a worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from hub.settings import Settings
from hub.testing import LocalBroker
from hub.topics import create_topics


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # a test marked kafka gets the broker even if it only asks for kafka_settings
    for item in items:
        if item.get_closest_marker("kafka") is not None:
            item.add_marker(pytest.mark.usefixtures("kafka_bootstrap"))


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> LocalBroker:
    """The session's broker, not started: `kafka_bootstrap` starts it."""
    return LocalBroker(tmp_path_factory.mktemp("motcua-broker"), topics=False)


@pytest.fixture(scope="session")
def kafka_settings(kafka_broker: LocalBroker) -> Settings:
    return kafka_broker.settings


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: LocalBroker) -> Iterator[str]:
    with kafka_broker:
        yield kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka_topics(kafka_bootstrap: str, kafka_settings: Settings) -> str:
    """The broker, with the hub's topics created."""
    asyncio.run(create_topics(kafka_settings))
    return kafka_bootstrap


@pytest.fixture(scope="session")
def kafka_env(kafka_bootstrap: str, kafka_broker: LocalBroker) -> dict[str, str]:
    """Environment variables that point a subprocess (motcua-hub ...) at the test broker."""
    return kafka_broker.env()
