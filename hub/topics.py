"""The hub's topics (contracts/operations.md) and their idempotent creation."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError

from connectors import SOURCES
from hub.errors import BrokerError
from hub.kafka_client import connection_options, connection_problem, fatal
from hub.settings import Settings

log = logging.getLogger(__name__)

# source name -> inbound topic, from the one registry of sources
INBOUND_TOPICS: dict[str, str] = {spec.name: spec.topic for spec in SOURCES.values()}
DOSSIER_EVENTS = "hub.dossier.events"
ALERTS = "hub.alerts"
DEADLETTER = "hub.deadletter"
# per-dossier summaries for the province-wide statistics (hub/stream/summaries.py): compacted
DOSSIER_SUMMARY = "hub.dossier.summary"
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    DOSSIER_SUMMARY: {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"},
}
DEADLETTER_PARTITIONS = 3
DEFAULT_RECORD_LIMIT = 1_048_588  # Kafka's default message.max.bytes
RECORD_LIMIT_MARGIN = 512

TOPIC_EXISTS = 36  # TOPIC_ALREADY_EXISTS error code


def changelog_topic(app_id: str) -> str:
    """The judge's state (hub/stream/table.py): the name faust gave the table's changelog, so
    state written before the judge left faust is read again."""
    return f"{app_id}-dossiers-changelog"


def topic_partitions(settings: Settings) -> dict[str, int]:
    """Every topic the hub needs, with its partition count."""
    counts = {name: settings.partitions for name in INBOUND_TOPICS.values()}
    counts[DOSSIER_EVENTS] = settings.partitions
    counts[ALERTS] = settings.partitions
    counts[DEADLETTER] = DEADLETTER_PARTITIONS
    counts[DOSSIER_SUMMARY] = settings.partitions  # = hub.dossier.events: same partition per key
    counts[changelog_topic(settings.app_id)] = settings.partitions  # one per events partition
    return counts


def deadletter_retention_ms(settings: Settings) -> str:
    return str(round(settings.deadletter_retention_days * 86_400_000))


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    return {
        **TOPIC_CONFIGS,
        changelog_topic(settings.app_id): {"cleanup.policy": "compact"},
        # raw rejected messages, personal data included: kept only as long as someone may need
        # to look at them (README, "Personal data"), then deleted by the broker
        DEADLETTER: {"cleanup.policy": "delete", "retention.ms": deadletter_retention_ms(settings)},
    }


DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs v1+ config source: set on the topic itself


async def _keep_deadletter_retention(admin: AIOKafkaAdminClient, settings: Settings) -> bool:
    """Set the dead-letter topic's retention.ms to the setting's when it differs (a topic made
    earlier, or the setting changed); True if it was changed. AlterConfigs replaces every
    setting of the topic, so the others set on it are sent again as they are."""
    wanted = deadletter_retention_ms(settings)
    response = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, DEADLETTER)])
    kept: dict[str, str] = {}
    current = None
    for _error, _msg, _type, _name, entries in response[0].resources:
        for entry in entries:
            name, value, source = entry[0], entry[1], entry[3]
            if name == "retention.ms":
                current = value
            # v0 answers is_default (a bool) where v1+ answers the source
            dynamic = source == DYNAMIC_TOPIC_CONFIG if not isinstance(source, bool) else not source
            if dynamic and value is not None:
                kept[name] = value
    if current == wanted:
        return False
    kept["retention.ms"] = wanted
    altered = await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, DEADLETTER, configs=kept)]
    )
    for answer in altered:
        for code, message, *_ in answer.resources:
            if code:
                # a principal without AlterConfigs on the topic: say so, but run
                log.warning(
                    "could not set %s retention.ms to %s (MOTCUA_DEADLETTER_RETENTION_DAYS): "
                    "error %s %s",
                    DEADLETTER,
                    wanted,
                    code,
                    message or "",
                )
                return False
    log.info("%s: retention.ms set to %s (MOTCUA_DEADLETTER_RETENTION_DAYS)", DEADLETTER, wanted)
    return True


async def record_limit(settings: Settings, topics: list[str]) -> int:
    """The largest record every one of `topics` takes (their max.message.bytes, less a margin
    for the batch header): a producer that refuses larger ones at send() never has a batch
    refused by the broker, which would fail a whole transaction again at every retry."""
    admin = admin_client(settings)
    limit = DEFAULT_RECORD_LIMIT
    try:
        await _start_with_retry(admin, settings, settings.kafka_bootstrap)
        resources = [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics]
        for response in await admin.describe_configs(resources):
            for _error, _msg, _type, _name, entries in response.resources:
                for entry in entries:
                    if entry[0] == "max.message.bytes":
                        limit = min(limit, int(entry[1]))
    except (KafkaError, ValueError, TypeError, IndexError) as exc:
        log.warning("could not read the topics' max.message.bytes (%r); using %d", exc, limit)
    finally:
        await admin.close()
    return max(1024, limit - RECORD_LIMIT_MARGIN)


def admin_client(settings: Settings, bootstrap: str | None = None) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        **connection_options(settings, bootstrap),
        request_timeout_ms=15000,
        client_id=f"{settings.app_id}-admin",
    )


async def _start_with_retry(
    admin: AIOKafkaAdminClient, settings: Settings, bootstrap: str, tries: int = 10
) -> None:
    """A broker binds its port a little before it serves: retry the first call. A refused
    credential or an untrusted certificate is told at once, by name: no retry mends it."""
    for attempt in range(1, tries + 1):
        try:
            await admin.start()
            await admin.describe_cluster()
            return
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            # a plain connection has no credential to refuse: asked why only at the end
            secured = settings.kafka_security_protocol != "PLAINTEXT"
            problem = None
            if secured or attempt == tries:
                problem = await connection_problem(settings, bootstrap)
            if fatal(problem):
                raise BrokerError(str(problem)) from exc
            if attempt == tries:
                told = problem or f"Kafka at {bootstrap} does not answer: {exc!r}"
                raise BrokerError(told) from exc
            log.debug("Kafka at %s not ready (%r), retrying", bootstrap, exc)
            await asyncio.sleep(min(0.5 * attempt, 3.0))


async def _replication_factor(admin: AIOKafkaAdminClient) -> int:
    """The cluster's default.replication.factor, capped at the number of brokers.

    aiokafka sends CreateTopics v0-v3, where -1 ("cluster default") is not allowed (v4+),
    so the default is read from a broker's configuration."""
    cluster = await admin.describe_cluster()
    brokers = [b["node_id"] for b in cluster["brokers"]]
    default = 1
    try:
        resource = ConfigResource(ConfigResourceType.BROKER, str(brokers[0]))
        responses = await admin.describe_configs([resource])
        for _error, _msg, _type, _name, entries in responses[0].resources:
            for entry in entries:
                if entry[0] == "default.replication.factor":
                    default = int(entry[1])
    except (KafkaError, IndexError, ValueError, TypeError) as exc:
        log.warning("could not read default.replication.factor (%r); using 1", exc)
    return max(1, min(default, len(brokers)))


async def create_topics(settings: Settings, bootstrap: str | None = None) -> list[str]:
    """Create the hub's topics that do not exist yet; return the names created."""
    address = bootstrap or settings.kafka_bootstrap
    admin = admin_client(settings, address)
    try:
        await _start_with_retry(admin, settings, address)
        existing = set(await admin.list_topics())
        wanted = topic_partitions(settings)
        missing = [name for name in wanted if name not in existing]
        if DEADLETTER in existing:
            await _keep_deadletter_retention(admin, settings)
        if not missing:
            return []
        replication = await _replication_factor(admin)
        configs = topic_configs(settings)
        response = await admin.create_topics(
            [
                NewTopic(name, wanted[name], replication, topic_configs=configs.get(name))
                for name in missing
            ]
        )
        created: list[str] = []
        problems: list[str] = []
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            message = entry[2] if len(entry) > 2 else None
            if code == 0:
                created.append(name)
            elif code != TOPIC_EXISTS:  # created meanwhile by someone else: fine
                problems.append(f"{name}: error {code} {message or ''}".strip())
        if problems:
            raise BrokerError("could not create topics: " + "; ".join(problems))
        return created
    except KafkaError as exc:
        raise BrokerError(f"could not create topics on {address}: {exc!r}") from exc
    finally:
        await admin.close()
