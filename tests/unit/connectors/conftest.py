"""Connector test fixtures."""

from __future__ import annotations

import pytest

from connectors import Context
from tests.unit.connectors.connector_ctx import make_ctx


@pytest.fixture
def ctx() -> Context:
    return make_ctx()
