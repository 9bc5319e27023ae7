"""Fencing a stalled worker's transactional offset commits (KIP-447), which aiokafka lacks.

aiokafka 0.14 sends TxnOffsetCommit v0: the group coordinator cannot tell that the worker
committing a batch's offsets is no longer the partitions' owner. A worker stalled past its
session (a long pause, a cut network) that wakes up mid-batch would then commit that batch,
which the partitions' new owner commits as well: duplicates. From v3 the request carries the
consumer's generation and member id, and the coordinator refuses a stale one
(ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID): the stalled worker's transaction is aborted instead.

`install()` (hub/service.py) replaces aiokafka's handler of that request with one that sends v3
when the broker takes it and the producer was `stamp()`ed with its consumer's group; the rest
of aiokafka's behaviour is kept. It refuses an aiokafka it was not checked against.

The other half of KIP-447: a partition's new owner must not start from the committed offset
while a transaction holding offsets for it is still open (its old owner stalled between
sending the offsets and committing: once it wakes and commits, both would have done the same
batch). aiokafka fetches committed offsets with OffsetFetch v3, which answers at once. From v7
the request can ask for stable offsets (`require_stable`): the coordinator then answers
UNSTABLE_OFFSET_COMMIT while such a transaction is pending, and the fetch is retried until it
commits or aborts (at the latest the transaction timeout later). `install()` replaces aiokafka's
fetch with one that does so.
"""

from __future__ import annotations

import collections
import logging
from typing import Any, NoReturn

import aiokafka
from aiokafka import errors as Errors
from aiokafka.consumer import group_coordinator
from aiokafka.producer import sender as aiokafka_sender
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.commit import OffsetFetchRequest_v3
from aiokafka.protocol.transaction import TxnOffsetCommitRequest_v0
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from hub.errors import ConfigError

log = logging.getLogger(__name__)
SUPPORTED = ("0.14.",)
_GROUP = "motcua_group"  # (generation, member id) stamped on a producer's transaction manager
# what the coordinator answers to a commit from a member that is no longer the group's
_STALE = (22, 25, 82)  # ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID


class TxnOffsetCommitResponse_v3(Response):  # type: ignore[misc]
    API_KEY = 28
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "errors",
            CompactArray(
                ("topic", CompactString("utf-8")),
                (
                    "partition_errors",
                    CompactArray(
                        ("partition", Int32), ("error_code", Int16), ("tags", TaggedFields)
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class TxnOffsetCommitRequest_v3(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 28
    API_VERSION = 3
    RESPONSE_TYPE = TxnOffsetCommitResponse_v3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("group_id", CompactString("utf-8")),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("generation_id", Int32),
        ("member_id", CompactString("utf-8")),
        ("group_instance_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("topic", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition", Int32),
                        ("offset", Int64),
                        ("leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class FencedTxnOffsetCommitRequest(
    Request[TxnOffsetCommitRequest_v0 | TxnOffsetCommitRequest_v3]  # type: ignore[misc]
):
    """v3 with the group's generation when the broker takes it, else aiokafka's v0."""

    API_KEY = 28

    def __init__(
        self,
        transactional_id: str,
        group_id: str,
        producer_id: int,
        producer_epoch: int,
        topics: list[tuple[str, list[tuple[int, int, str]]]],
        generation: int,
        member_id: str,
    ) -> None:
        self._args = (transactional_id, group_id, producer_id, producer_epoch)
        self._topics = topics
        self._group = (generation, member_id)

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class is TxnOffsetCommitRequest_v3:
            no_tags: dict[int, bytes] = {}
            topics: list[Any] = [
                (topic, [(p, offset, -1, meta, no_tags) for p, offset, meta in parts], no_tags)
                for topic, parts in self._topics
            ]
            return request_struct_class(*self._args, *self._group, None, topics, no_tags)
        return request_struct_class(*self._args, self._topics)


class FencedTxnOffsetCommitHandler(aiokafka_sender.TxnOffsetCommitHandler):  # type: ignore[misc]
    def create_request(self) -> Any:
        txn_manager = self._sender._txn_manager
        group = getattr(txn_manager, _GROUP, None)
        if group is None:
            return super().create_request()
        offset_data: dict[str, list[tuple[int, int, str]]] = collections.defaultdict(list)
        for tp, offset in sorted(self._offsets.items()):
            offset_data[tp.topic].append((tp.partition, offset.offset, offset.metadata))
        return FencedTxnOffsetCommitRequest(
            transactional_id=txn_manager.transactional_id,
            group_id=self._group_id,
            producer_id=txn_manager.producer_id,
            producer_epoch=txn_manager.producer_epoch,
            topics=list(offset_data.items()),
            generation=group[0],
            member_id=group[1],
        )

    def handle_response(self, resp: Any) -> Any:
        if resp.API_VERSION < 3:
            return super().handle_response(resp)
        for _topic, partitions, *_ in resp.errors:
            for _partition, code, *_ in partitions:
                if code in _STALE:
                    error = Errors.for_code(code)(f"{self._group_id}: not the group's member now")
                    log.warning("offsets of a stale member refused: its transaction aborts")
                    self._sender._txn_manager.error_transaction(error)
                    return None
        # the v0 handling for every other answer, on v0-shaped errors
        resp.errors = [
            (topic, [(p, code) for p, code, *_ in partitions])
            for topic, partitions, *_ in resp.errors
        ]
        return super().handle_response(resp)


Membership = tuple[int, str]  # (generation, member id)


class NotAMember(RuntimeError):
    """The consumer is not (or no longer) a member of its group: its batch must not commit."""


def membership(consumer: Any) -> Membership:
    """The consumer's group generation and member id now: taken when a batch is read, so that
    its commit carries the generation it was read in (aiokafka resets both to "none" once it
    learns it was dropped from the group, and a commit with "none" would not be checked)."""
    coordinator = consumer._coordinator
    generation = getattr(coordinator, "generation", -1)
    member = getattr(coordinator, "member_id", "")
    if not isinstance(generation, int) or generation < 0 or not member:
        raise NotAMember("the consumer is not a member of its group")
    return generation, str(member)


def membership_or_none(consumer: Any) -> Membership | None:
    try:
        return membership(consumer)
    except NotAMember:
        return None


def stamp(producer: Any, member: Membership) -> None:
    """The next offsets this producer sends to its transaction carry this membership."""
    setattr(producer._txn_manager, _GROUP, member)


# -- stable committed offsets (OffsetFetch v7, require_stable) ----------------------------------


class UnstableOffsetCommitError(Errors.KafkaError):  # type: ignore[misc]
    """A transaction holding offsets for the partition is still open: ask again."""

    errno = 88
    message = "UNSTABLE_OFFSET_COMMIT"
    retriable = True


class OffsetFetchResponse_v7(Response):  # type: ignore[misc]
    API_KEY = 9
    API_VERSION = 7
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "topics",
            CompactArray(
                ("topic", CompactString("utf-8")),
                (
                    "partitions",
                    CompactArray(
                        ("partition", Int32),
                        ("offset", Int64),
                        ("leader_epoch", Int32),
                        ("metadata", CompactString("utf-8")),
                        ("error_code", Int16),
                        ("tags", TaggedFields),
                    ),
                ),
                ("tags", TaggedFields),
            ),
        ),
        ("error_code", Int16),
        ("tags", TaggedFields),
    )


class OffsetFetchRequest_v7(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 9
    API_VERSION = 7
    RESPONSE_TYPE = OffsetFetchResponse_v7
    SCHEMA = Schema(
        ("group_id", CompactString("utf-8")),
        (
            "topics",
            CompactArray(
                ("topic", CompactString("utf-8")),
                ("partitions", CompactArray(Int32)),
                ("tags", TaggedFields),
            ),
        ),
        ("require_stable", Boolean),
        ("tags", TaggedFields),
    )


class StableOffsetFetchRequest(
    Request[OffsetFetchRequest_v3 | OffsetFetchRequest_v7]  # type: ignore[misc]
):
    """v7 asking for stable offsets when the broker takes it, else aiokafka's v3."""

    API_KEY = 9

    def __init__(self, group_id: str, topics: list[tuple[str, list[int]]]) -> None:
        self._group_id = group_id
        self._topics = topics

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class is OffsetFetchRequest_v7:
            no_tags: dict[int, bytes] = {}
            topics = [(topic, parts, no_tags) for topic, parts in self._topics]
            return request_struct_class(self._group_id, topics, True, no_tags)
        return request_struct_class(self._group_id, self._topics)


_UNKNOWN_OFFSET = -1


async def _fetch_stable_offsets(
    self: Any, partitions: list[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """aiokafka's `GroupCoordinator._do_fetch_commit_offsets`, on the request above: the same
    handling of every answer, and UNSTABLE_OFFSET_COMMIT retried as aiokafka retries a group
    still loading."""
    by_topic: dict[str, list[int]] = collections.defaultdict(list)
    for tp in partitions:
        by_topic[tp.topic].append(tp.partition)
    response = await self._send_req(StableOffsetFetchRequest(self.group_id, list(by_topic.items())))
    if response.API_VERSION >= 7 and response.error_code:
        _raise_fetch_error(self, response.error_code, None)
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for topic, topic_partitions, *_ in response.topics:
        for row in topic_partitions:
            if response.API_VERSION >= 7:
                partition, offset, _epoch, metadata, error_code, _tags = row
            else:
                partition, offset, metadata, error_code = row
            tp = TopicPartition(topic, partition)
            if error_code:
                if Errors.for_code(error_code) is Errors.UnknownTopicOrPartitionError:
                    log.warning("OffsetFetchRequest -- unknown topic %s", topic)
                    continue
                _raise_fetch_error(self, error_code, tp)
            if offset != _UNKNOWN_OFFSET:
                offsets[tp] = OffsetAndMetadata(offset, metadata or "")
    return offsets


def _raise_fetch_error(self: Any, code: int, tp: TopicPartition | None) -> NoReturn:
    if code == UnstableOffsetCommitError.errno:
        log.info("offsets of %s held by an open transaction: asking again", tp or "the group")
        raise UnstableOffsetCommitError(f"{self.group_id} {tp}")
    error_type = Errors.for_code(code)
    if error_type is Errors.GroupLoadInProgressError:
        raise error_type()
    if error_type is Errors.NotCoordinatorForGroupError:
        self.coordinator_dead()
        raise error_type()
    if error_type is Errors.GroupAuthorizationFailedError:
        raise error_type(self.group_id)
    log.error("Unknown error fetching offsets for %s: %s", tp, error_type.__name__)
    raise Errors.KafkaError(repr(error_type()))


def install() -> None:
    """Use the fenced handler in aiokafka's sender and the stable offset fetch in its group
    coordinator; idempotent."""
    version = str(getattr(aiokafka, "__version__", "?"))
    if not version.startswith(SUPPORTED):
        raise ConfigError(
            f"aiokafka {version} is not one the hub's offset-commit fencing was checked "
            f"against ({', '.join(v + 'x' for v in SUPPORTED)}): see hub/stream/fencing.py"
        )
    aiokafka_sender.TxnOffsetCommitHandler = FencedTxnOffsetCommitHandler
    group_coordinator.GroupCoordinator._do_fetch_commit_offsets = _fetch_stable_offsets


def installed() -> bool:
    return (
        aiokafka_sender.TxnOffsetCommitHandler is FencedTxnOffsetCommitHandler
        and group_coordinator.GroupCoordinator._do_fetch_commit_offsets is _fetch_stable_offsets
    )
