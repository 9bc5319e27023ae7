"""hub/stream/fencing.py: offset commits that carry the group generation they were read in."""

from __future__ import annotations

from io import BytesIO
from types import SimpleNamespace

import pytest
from aiokafka.producer import sender as aiokafka_sender
from aiokafka.protocol.transaction import TxnOffsetCommitRequest_v0

from hub.errors import ConfigError
from hub.stream import fencing

ARGS = ("app-judge-vm-6066", "app-judge", 7, 2, [("hub.dossier.events", [(3, 120, "")])])


def test_v3_carries_the_generation_and_member_and_v0_is_kept_for_old_brokers() -> None:
    request = fencing.FencedTxnOffsetCommitRequest(*ARGS, generation=5, member_id="m-1")
    v3 = request.prepare({28: (0, 4)})
    assert isinstance(v3, fencing.TxnOffsetCommitRequest_v3)
    decoded = fencing.TxnOffsetCommitRequest_v3.SCHEMA.decode(BytesIO(v3.encode()))
    assert decoded[:7] == ("app-judge-vm-6066", "app-judge", 7, 2, 5, "m-1", None)
    ((topic, ((partition, offset, epoch, meta, _),), _),) = decoded[7]
    assert (topic, partition, offset, epoch, meta) == ("hub.dossier.events", 3, 120, -1, "")
    v0 = request.prepare({28: (0, 2)})
    assert isinstance(v0, TxnOffsetCommitRequest_v0)


def test_a_consumer_out_of_its_group_is_no_member() -> None:
    out = SimpleNamespace(_coordinator=SimpleNamespace(generation=-1, member_id=""))
    assert fencing.membership_or_none(out) is None
    with pytest.raises(fencing.NotAMember):
        fencing.membership(out)
    member = SimpleNamespace(_coordinator=SimpleNamespace(generation=4, member_id="m-9"))
    assert fencing.membership(member) == (4, "m-9")


def test_a_stale_generation_aborts_the_transaction() -> None:
    errors: list[Exception] = []
    txn = SimpleNamespace(error_transaction=errors.append)
    handler = fencing.FencedTxnOffsetCommitHandler.__new__(fencing.FencedTxnOffsetCommitHandler)
    handler._sender = SimpleNamespace(_txn_manager=txn)
    handler._group_id = "app-judge"
    response = SimpleNamespace(
        API_VERSION=3, errors=[("hub.dossier.events", [(3, 22, {})], {})]
    )  # 22: ILLEGAL_GENERATION
    assert handler.handle_response(response) is None
    assert len(errors) == 1 and "app-judge" in str(errors[0])


def test_install_is_explicit_and_checks_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        aiokafka_sender, "TxnOffsetCommitHandler", aiokafka_sender.TxnOffsetCommitHandler
    )
    fencing.install()
    assert fencing.installed()
    monkeypatch.setattr(fencing.aiokafka, "__version__", "0.15.0")
    with pytest.raises(ConfigError, match=r"0\.15\.0"):
        fencing.install()
