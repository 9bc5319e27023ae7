"""aiokafka connection options from the settings: one place for bootstrap, TLS and SASL."""

from __future__ import annotations

from typing import Any

from hub.settings import Settings


def connection_options(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Keyword arguments every aiokafka client (producer, consumer, admin) takes."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap or settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options
