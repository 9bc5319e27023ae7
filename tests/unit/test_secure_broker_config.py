"""The local broker's SASL_SSL configuration (hub/broker.py), without starting it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import broker
from hub.errors import BrokerError
from hub.settings import Settings

SECURE = broker.SecureListener(
    keystore=Path("/k/broker.p12"),
    keystore_password="ks-pass",
    users={"motcua-hub": "s3cret", "ops": "other"},
    internal_port=19094,
)


def test_the_clients_listener_is_sasl_ssl_and_the_broker_talks_to_itself_in_plain() -> None:
    cfg = Settings(broker_port=19092, broker_controller_port=19093)
    props = dict(
        line.split("=", 1)
        for line in broker._server_properties(cfg, Path("/logs"), SECURE)
        .replace("\\\n", "")
        .splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert props["listeners"] == (
        "SASL_SSL://127.0.0.1:19092,INTERNAL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19093"
    )
    assert props["listener.security.protocol.map"] == (
        "SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.location"] == "/k/broker.p12"
    assert "PLAINTEXT://127.0.0.1:19092" not in props["advertised.listeners"]
    plain = broker._server_properties(cfg, Path("/logs"), None)
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in plain
    assert "SASL" not in plain


def test_scram_users_are_quoted_and_unquotable_ones_refused() -> None:
    assert SECURE.scram_arguments() == [
        "--add-scram",
        'SCRAM-SHA-512=[name="motcua-hub",password="s3cret"]',
        "--add-scram",
        'SCRAM-SHA-512=[name="ops",password="other"]',
    ]
    for users in ({"a": 'x"y'}, {"a,b": "x"}, {"a": ""}, {"a": "x]"}):
        bad = broker.SecureListener(Path("/k"), "p", users, 1)
        with pytest.raises(BrokerError):
            bad.scram_arguments()
