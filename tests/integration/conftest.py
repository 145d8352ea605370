"""Shared fixtures: real embedded PostgreSQL+pgvector and FalkorDB, the real embedding model.

Two workspaces (two data dirs, so two independent pairs of servers):
- ``corpus``: the sample manuals ingested once per session, for read-only tests;
- ``scratch``: emptied before each test that uses it, for tests that write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maint.embed import Embedder, embedder_for
from maint.settings import Settings
from tests.helpers import SAMPLES, Workspace, workspace


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One converted copy of the bundled generator and of the embedding model's ONNX exports
    for the whole session (they take ~20 s and ~10 s)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache) -> Embedder:
    """The embedder a user gets by default (the bundled model, fp32 ONNX)."""
    return embedder_for(Settings(model_cache_dir=model_cache), lazy=False)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    for ws in workspace(tmp_path_factory.mktemp("corpus"), embedder, model_cache):
        summary = ws.ingest(SAMPLES)
        assert not summary.failed, summary.to_dict()
        ws.summary = summary  # type: ignore[attr-defined]
        yield ws


@pytest.fixture(scope="session")
def _scratch(tmp_path_factory, embedder, model_cache) -> Iterator[Workspace]:
    yield from workspace(tmp_path_factory.mktemp("scratch"), embedder, model_cache)


@pytest.fixture
def scratch(_scratch: Workspace) -> Workspace:
    _scratch.wipe()
    return _scratch
