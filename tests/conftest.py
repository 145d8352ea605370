"""For every test: the process set-up the ``maint`` entry point does first, and the ``slow``
marker on every test under ``tests/integration/``.

Two lanes: ``tests/unit/`` needs no store and no model weights (``make test-fast``);
``tests/integration/`` runs on the embedded PostgreSQL+pgvector and FalkorDB, the real
embedding model and the bundled generator (its fixtures: ``integration/conftest.py``).
``make test`` runs both. Shared helpers: ``tests/helpers.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maint.process import setup

INTEGRATION = Path(__file__).resolve().parent / "integration"

setup()  # OpenMP wait policy and quiet third-party loggers, before anything imports torch


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.slow)
