"""What the integration tests add to hub.testing: waiting for the alerts a worker raises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from aiokafka import TopicPartition

from hub.codec import decode_alert
from hub.domain.alerts import Alert
from hub.testing import read_topic
from hub.topics import ALERTS


def wait_for_alerts(
    bootstrap: str,
    *,
    at_least: int,
    start: Mapping[TopicPartition, int] | None = None,
    quiet_s: float = 6.0,
    timeout: float = 150.0,
) -> list[Alert]:
    """Alerts on hub.alerts once there are `at_least` of them and no more come for `quiet_s`."""
    deadline = time.monotonic() + timeout
    last: list[Alert] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        records = asyncio.run(read_topic(bootstrap, ALERTS, start))
        alerts = [decode_alert(r.value) for r in records if r.value is not None]
        if len(alerts) != len(last):
            last, stable_since = alerts, time.monotonic()
        elif len(alerts) >= at_least and time.monotonic() - stable_since >= quiet_s:
            return alerts
        time.sleep(1.0)
    return last
