"""The int8 ONNX embedder against the fp32 one it replaces, on real manual text and weights."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from maint.embed import SentenceTransformerEmbedder, embedder_for
from maint.embed_onnx import OnnxEmbedder
from maint.settings import Settings
from tests.helpers import SAMPLES


@pytest.fixture(scope="module")
def onnx_settings(model_cache) -> Settings:
    return Settings(embedding_backend="onnx-int8", model_cache_dir=model_cache)


@pytest.fixture(scope="module")
def onnx_embedder(onnx_settings) -> OnnxEmbedder:
    loaded = embedder_for(onnx_settings, lazy=False)
    assert isinstance(loaded, OnnxEmbedder)
    return loaded


def _sample_chunks(embedder) -> list[str]:
    texts = []
    for path in sorted(SAMPLES.iterdir()):
        parsed = parse_file(path, path.read_bytes())
        chunks = chunk_blocks(path.stem, to_blocks(parsed), embedder.count_tokens, 200, 30, 600)
        texts += [c.embed_text for c in chunks]
    return texts


def test_int8_vectors_match_fp32(onnx_embedder, embedder: SentenceTransformerEmbedder):
    texts = _sample_chunks(embedder)
    assert len(texts) > 100
    fp32 = embedder.embed(texts)
    int8 = onnx_embedder.embed(texts)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    cosine = (fp32 * int8).sum(axis=1)  # both unit length
    assert cosine.min() >= 0.99, sorted(cosine)[:5]
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)
    # Same tokenizer: chunk boundaries, counted in tokens, do not depend on the backend.
    assert all(onnx_embedder.count_tokens(t) == embedder.count_tokens(t) for t in texts)
    assert onnx_embedder.embed([]).shape == (0, fp32.shape[1])
    # A text's vector does not depend on what it is embedded with (ingest vs query).
    assert np.array_equal(onnx_embedder.embed(texts[3:4])[0], int8[3])


def test_backend_setting_is_honoured(onnx_settings, model_cache):
    torch_settings = Settings(embedding_backend="torch", model_cache_dir=model_cache)
    assert isinstance(embedder_for(torch_settings, lazy=False), SentenceTransformerEmbedder)
    # The export is made once and then reused from the cache folder.
    exports = [p for p in model_cache.iterdir() if p.name.startswith("embedding-")]
    assert len(exports) == 1 and (exports[0] / "model.onnx").is_file()
    assert isinstance(embedder_for(onnx_settings, lazy=False), OnnxEmbedder)
    assert [p for p in model_cache.iterdir() if p.name.startswith("embedding-")] == exports
