"""The chunk store interface: documents and their chunks, written by ingestion and read by
retrieval, the document catalog, training-data building and the eval.

One small ABC, as ``graph.base.GraphStore`` is for the graph, so that ingestion depends on
this interface and not on PostgreSQL (``retrieval.pgstore`` is the implementation), and a
test or another backend can stand in for it.

Consistency contract: a document is written ``pending`` with all its chunks at once, made
``complete`` (replacing older versions of the same file) at once, and readers see only
complete documents, so a crash at any point leaves the store consistent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from maint.domain import Chunk, DocumentRecord
from maint.errors import MaintError


class StoreError(MaintError):
    """The database is unreachable or not in the expected shape; the message says why."""


# What a search ranks: chunks, their search units (rows, sentences, safety blocks) or only
# the units that are parts-list rows; units come back as their chunk.
SearchOver = Literal["chunks", "units", "part_rows"]


class ChunkStore(ABC):
    """Documents and chunks. One instance is used by one thread at a time."""

    @abstractmethod
    def close(self) -> None: ...

    # -- documents ----------------------------------------------------------------------
    @abstractmethod
    def find_by_sha(self, sha256: str) -> DocumentRecord | None:
        """The version with this content hash, pending or complete."""

    @abstractmethod
    def find_by_source(self, source_path: str) -> list[DocumentRecord]:
        """Complete documents ingested from this path."""

    @abstractmethod
    def list_documents(self, include_pending: bool = False) -> list[DocumentRecord]:
        """Every (complete) document, by source path."""

    @abstractmethod
    def pending_documents(self) -> list[DocumentRecord]: ...

    @abstractmethod
    def complete_ids(self) -> set[str]: ...

    @abstractmethod
    def write_pending(
        self,
        doc: DocumentRecord,
        chunks: Sequence[Chunk],
        embeddings: np.ndarray,
        unit_embeddings: Sequence[np.ndarray] = (),
    ) -> None:
        """Store a new document version and its chunks (with their search units' embeddings,
        one array per chunk, when given), invisible until ``complete``."""

    @abstractmethod
    def complete(self, doc_id: str, replaces: Iterable[str] = ()) -> None:
        """Make a pending document visible and drop the versions it replaces, atomically."""

    @abstractmethod
    def move(self, doc_id: str, source_path: str) -> None:
        """Record that identical content now lives at another path."""

    @abstractmethod
    def delete_document(self, doc_id: str) -> bool:
        """Delete a document and its chunks; False when there was none."""

    @abstractmethod
    def chunks(self, doc_id: str) -> list[dict]:
        """A document's chunks in order: id, ordinal, section_path, pages, tokens, text."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Complete documents, their pages and chunks."""

    @abstractmethod
    def catalog_version(self) -> str:
        """Changes whenever a document is completed, replaced or deleted: what caches of
        the graph's facts are checked against (the graph is written before ``complete``)."""

    # -- search: complete documents only; a row per chunk with what a citation needs --------
    # (chunk_id, document_id, document = title, source_path, section, page_start, page_end,
    # text, tokens, score), read by ``retrieval.base.Hit.from_row``.
    @abstractmethod
    def vector_search(
        self,
        embedding: np.ndarray,
        k: int,
        ef_search: int = 40,
        exact: bool = False,
        over: SearchOver = "chunks",
    ) -> list[dict]:
        """Nearest chunks by cosine similarity (``score`` = 1 - distance); over units,
        chunks by their nearest search unit (``unit`` = its text)."""

    @abstractmethod
    def keyword_search(
        self, query: str, identifiers: Sequence[str], k: int, over: SearchOver = "chunks"
    ) -> list[dict]:
        """BM25 over the question's terms, plus a bonus per identifier (compacted part
        number) a chunk contains however spelled; over units, chunks by their best search
        unit."""

    @abstractmethod
    def chunks_by_ids(self, ids: Sequence[str]) -> list[dict]:
        """Chunks by id, in no particular order."""

    @abstractmethod
    def units_of(self, chunk_ids: Sequence[str], embedding: np.ndarray | None = None) -> list[dict]:
        """The search units of these chunks, in chunk order: id, chunk_id, ordinal, kind,
        text and ``similarity`` (cosine to ``embedding``; 0 without one). What answers
        select from, and what training answers quote."""

    @abstractmethod
    def term_weights(self, words: Sequence[str]) -> dict[str, float]:
        """How rare each word (stemmed, as ``retrieval.query.terms`` gives it) is in the
        corpus: its BM25 IDF over the chunks. Answers weigh a question's words by it."""

    def searcher(self, slot: int = 0) -> ChunkStore | None:
        """Another handle on the same store (one per ``slot``), for searches run in other
        threads beside this one's: its own connection, opened once, closed with this store.
        None when the store has no other handle to give: searches then run one after another."""
        return None

    @abstractmethod
    def refresh_statistics(self) -> None:
        """After a batch is written: let the database plan searches from the new data (a
        freshly loaded table planned from no statistics read every posting of every word)."""

    # -- claims: several ingestion workers on one database --------------------------------
    @abstractmethod
    def claim(self, name: str, wait: bool = False) -> bool:
        """Take the lock called ``name`` for this connection; False when another connection
        holds it (``wait``: block until it is free instead). Taken again by the same
        connection, it is held once more (release as often). It lasts until ``release`` or
        the end of the connection, so a worker that dies leaves no claim behind."""

    @abstractmethod
    def release(self, name: str) -> None: ...

    # -- ingestion runs -----------------------------------------------------------------
    @abstractmethod
    def start_run(self) -> int: ...

    @abstractmethod
    def finish_run(self, run_id: int, summary: dict) -> None: ...
