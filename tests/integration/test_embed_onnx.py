"""The ONNX embedders (fp32, the default, and int8) against sentence-transformers' torch fp32
on real manual text and weights."""

from __future__ import annotations

import numpy as np
import pytest

from ingestion.chunker import chunk_blocks, to_blocks
from ingestion.parsers import parse_file
from maint.embed import SentenceTransformerEmbedder, embedder_for
from maint.embed_onnx import OnnxEmbedder
from maint.settings import Settings
from tests.helpers import SAMPLES

# precision -> the worst cosine to torch fp32 allowed on the sample chunks
AGREEMENT = {"onnx": 0.9999, "onnx-int8": 0.99}


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def texts(torch_embedder) -> list[str]:
    texts = []
    for path in sorted(SAMPLES.iterdir()):
        parsed = parse_file(path, path.read_bytes())
        count = torch_embedder.count_tokens
        texts += [
            c.embed_text for c in chunk_blocks(path.stem, to_blocks(parsed), count, 200, 30, 600)
        ]
    assert len(texts) > 100
    return texts


@pytest.mark.parametrize("backend", sorted(AGREEMENT))
def test_onnx_vectors_match_torch(backend, model_cache, torch_embedder, texts):
    onnx = embedder_for(Settings(embedding_backend=backend, model_cache_dir=model_cache), False)
    assert isinstance(onnx, OnnxEmbedder)
    fp32 = torch_embedder.embed(texts)
    vectors = onnx.embed(texts)
    assert vectors.shape == fp32.shape and vectors.dtype == np.float32
    cosine = (fp32 * vectors).sum(axis=1)  # both unit length
    assert cosine.min() >= AGREEMENT[backend], sorted(cosine)[:5]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    # Same tokenizer: chunk boundaries, counted in tokens, do not depend on the backend.
    assert all(onnx.count_tokens(t) == torch_embedder.count_tokens(t) for t in texts)
    assert onnx.embed([]).shape == (0, fp32.shape[1])
    # A text's vector does not depend on what it is embedded with (ingest vs query).
    assert np.array_equal(onnx.embed(texts[3:4])[0], vectors[3])


def test_backend_setting_is_honoured(model_cache):
    def exports() -> list[str]:
        return sorted(p.name for p in model_cache.iterdir() if p.name.startswith("embedding-"))

    torch_settings = Settings(embedding_backend="torch", model_cache_dir=model_cache)
    assert isinstance(embedder_for(torch_settings, lazy=False), SentenceTransformerEmbedder)
    assert Settings().embedding_backend == "onnx"  # the default
    for backend in AGREEMENT:
        settings = Settings(embedding_backend=backend, model_cache_dir=model_cache)
        assert isinstance(embedder_for(settings, lazy=False), OnnxEmbedder)
    # One export per precision, made once and then reused from its cache folder.
    made = exports()
    assert [name.rsplit("-", 2)[-2] for name in made] == ["fp32", "int8"], made
    assert all((model_cache / name / "model.onnx").is_file() for name in made)
    for backend in AGREEMENT:
        embedder_for(Settings(embedding_backend=backend, model_cache_dir=model_cache), False)
    assert exports() == made


@pytest.mark.parametrize("backend", sorted(AGREEMENT))
def test_sessions_side_by_side_give_the_vectors_of_one(backend, model_cache, texts):
    """Many texts are shared out to one-thread sessions; each text still gets its own run, so
    its vector is the one a single session gives, in the caller's order."""
    settings = Settings(embedding_backend=backend, model_cache_dir=model_cache)
    one = embedder_for(settings.model_copy(update={"embedding_threads": 1}), False)
    three = embedder_for(settings.model_copy(update={"embedding_threads": 3}), False)
    sample = texts[:40]
    alone, shared = one.embed(sample), three.embed(sample)
    assert len(three._many) == 3  # the texts were shared out
    assert np.allclose(alone, shared, atol=1e-5)
    assert np.array_equal(three.embed(sample[7:8])[0], shared[7])
