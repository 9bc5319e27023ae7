"""Connector test fixtures."""

from __future__ import annotations

import pytest
from connector_ctx import make_ctx

from connectors import Context


@pytest.fixture
def ctx() -> Context:
    return make_ctx()
