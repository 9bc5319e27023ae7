"""The dead-letter topic's retention comes from MOTCUA_DEADLETTER_RETENTION_DAYS (issue 13):
set when `topics create` makes the topic, and set again on an existing topic when the setting
changed, the topic's other settings kept."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.settings import Settings
from hub.topics import DEADLETTER, admin_client, create_topics

pytestmark = pytest.mark.kafka
DAY_MS = 86_400_000


async def topic_config(settings: Settings) -> dict[str, str]:
    admin = admin_client(settings)
    await admin.start()
    try:
        answer = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, DEADLETTER)]
        )
    finally:
        await admin.close()
    return {e[0]: e[1] for r in answer[0].resources for e in r[4]}


async def settled_config(settings: Settings, name: str, value: str) -> dict[str, str]:
    """The topic's configuration once `name` reads `value` (a change reaches the broker's
    metadata a moment after the controller took it), or as it is after 10 s."""
    for _ in range(50):
        config = await topic_config(settings)
        if config.get(name) == value:
            break
        await asyncio.sleep(0.2)
    return config


async def set_config(settings: Settings, configs: dict[str, str]) -> None:
    admin = admin_client(settings)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, DEADLETTER, configs)])
    finally:
        await admin.close()


async def test_retention_set_and_kept_up_to_date(
    kafka_topics: str, kafka_settings: Settings
) -> None:
    month = kafka_settings.model_copy(update={"deadletter_retention_days": 30})
    await create_topics(month)  # made here, or by an earlier test with the default: 30 days
    config = await topic_config(month)
    assert config["retention.ms"] == str(30 * DAY_MS)
    assert config["cleanup.policy"] == "delete"

    # an operator's own setting on the topic survives a changed retention
    await set_config(month, {"retention.ms": str(30 * DAY_MS), "max.message.bytes": "2000000"})
    await settled_config(month, "max.message.bytes", "2000000")
    week = kafka_settings.model_copy(update={"deadletter_retention_days": 7.5})
    try:
        assert await create_topics(week) == []
        config = await settled_config(week, "retention.ms", str(round(7.5 * DAY_MS)))
        assert config["retention.ms"] == str(round(7.5 * DAY_MS))
        assert config["max.message.bytes"] == "2000000"
    finally:
        await set_config(month, {"retention.ms": str(30 * DAY_MS)})  # as the session had it
