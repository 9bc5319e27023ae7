"""The local development broker and topic creation, against a real Kafka."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from hub import broker
from hub.errors import BrokerError
from hub.settings import Settings
from hub.testing import broker_settings
from hub.topics import (
    ALERTS,
    DEADLETTER,
    DOSSIER_EVENTS,
    DOSSIER_SUMMARY,
    INBOUND_TOPICS,
    changelog_topic,
    create_topics,
    topic_partitions,
)

pytestmark = pytest.mark.kafka


async def test_broker_answers_metadata(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    assert [b["node_id"] for b in cluster["brokers"]] == [broker.NODE_ID]
    assert cluster["controller_id"] == broker.NODE_ID


async def test_topics_create_is_idempotent(kafka_topics: str, kafka_settings: Settings) -> None:
    # kafka_topics created them; a second (and third) call creates nothing and does not fail
    assert await create_topics(kafka_settings) == []
    assert await create_topics(kafka_settings) == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_topics)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topic_partitions(kafka_settings)))
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
    assert partitions == {
        **{name: kafka_settings.partitions for name in INBOUND_TOPICS.values()},
        DOSSIER_EVENTS: kafka_settings.partitions,
        ALERTS: kafka_settings.partitions,
        DEADLETTER: 3,
        DOSSIER_SUMMARY: kafka_settings.partitions,
        # the judge's state, one partition per events partition (no longer faust's to make)
        changelog_topic(kafka_settings.app_id): kafka_settings.partitions,
    }
    assert set(INBOUND_TOPICS) == {"onestop", "land", "tax", "civil"}


async def test_produce_and_consume(kafka_topics: str) -> None:
    payload = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=kafka_topics, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(ALERTS, payload, key=b"dossier-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        ALERTS,
        bootstrap_servers=kafka_topics,
        group_id=f"test-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received = None
        for _ in range(30):
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                for message in messages:
                    if message.value == payload:
                        received = message
            if received is not None:
                break
        assert received is not None, "the message did not come back"
        assert received.key == b"dossier-1"
        assert (received.partition, received.offset) == (sent.partition, sent.offset)
        await consumer.commit()
    finally:
        await consumer.stop()


def test_status_of_the_session_broker(kafka_bootstrap: str, kafka_settings: Settings) -> None:
    state = broker.status(kafka_settings)
    assert state.running and state.pid is not None
    assert state.bootstrap == kafka_bootstrap
    # starting it again is a no-op that says so
    lines: list[str] = []
    assert broker.start(kafka_settings, say=lines.append) == kafka_bootstrap
    assert "already running" in lines[0]
    assert broker.status(kafka_settings).pid == state.pid


def test_start_stop_status_cycle(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path)
    assert not broker.status(settings).running
    assert broker.stop(settings) is False
    try:
        address = broker.start(settings)
        state = broker.status(settings)
        assert state.running and state.bootstrap == address
        assert (tmp_path / "kafka" / "broker.pid").read_text().strip() == str(state.pid)
    finally:
        assert broker.stop(settings) is True
    assert not broker.status(settings).running
    assert not (tmp_path / "kafka" / "broker.pid").exists()
    assert (tmp_path / "kafka" / "logs" / "meta.properties").exists()


def test_start_fails_clearly_when_port_is_taken(tmp_path: Path) -> None:
    settings = broker_settings(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.broker_port))
        taken.listen()
        with pytest.raises(BrokerError, match="MOTCUA_BROKER_PORT"):
            broker.start(settings)
    assert not broker.status(settings).running


def test_cli_status_and_topics(kafka_topics: str, kafka_env: dict[str, str]) -> None:
    cli = [sys.executable, "-c", "from hub.cli import main; main()"]
    env = {**os.environ, **kafka_env}
    status = subprocess.run([*cli, "broker", "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    assert "running" in status.stdout and kafka_topics in status.stdout
    again = subprocess.run([*cli, "topics", "create"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 created, 9 existed")
    bad = subprocess.run(
        [*cli, "broker", "status"],
        env={**env, "MOTCUA_BROKER_PORT": "0"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("motcua-hub: error: invalid settings: MOTCUA_BROKER_PORT")
