"""The unit lane: no store, no model weights. ``embedder`` is ``FakeEmbedder``."""

from __future__ import annotations

import pytest

from tests.helpers import FakeEmbedder


@pytest.fixture(scope="session")
def embedder() -> FakeEmbedder:
    return FakeEmbedder()
