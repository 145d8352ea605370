"""``embed_distinct``: each distinct text embedded once, every row as if embedded alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from maint.embed import embed_distinct
from tests.helpers import FakeEmbedder


class Recording(FakeEmbedder):
    """The fake embedder, keeping the texts of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return super().embed(texts)


def test_repeated_texts_are_embedded_once_and_every_row_gets_its_vector():
    texts = [
        "oil filter FLT-77210",
        "torque 15 N·m",
        "oil filter FLT-77210",
        "drain plug",
        "torque 15 N·m",
    ]
    embedder = Recording()
    vectors = embed_distinct(embedder, texts)
    assert embedder.calls == [["oil filter FLT-77210", "torque 15 N·m", "drain plug"]]
    assert np.array_equal(vectors, FakeEmbedder().embed(texts))


def test_distinct_texts_go_through_in_one_call_unchanged():
    embedder = Recording()
    assert embed_distinct(embedder, ["a b", "c d"]).shape == (2, embedder.dim)
    assert embedder.calls == [["a b", "c d"]]
    assert embed_distinct(embedder, []).shape == (0, embedder.dim)
