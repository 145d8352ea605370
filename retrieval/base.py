"""What every retriever returns: scored chunks with their provenance, and graph facts.

Retrievers sit behind one small protocol so the hybrid retriever (and LlamaIndex, through
``serving.answering.llamaindex``) can combine any of them; a new backend is one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Fact:
    """One graph fact, structured, with the chunk it was read from."""

    kind: str  # "spec", "part", "procedure", "step", "warning", "interval", "supersession"
    subject: str  # what it is about: "P-200 impeller nut", "WP-2207-B"
    text: str  # the fact as one line a model (and a technician) can read
    chunk_id: str
    value: str | None = None  # "95 N·m" for specs
    props: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "text": self.text,
            "value": self.value,
            "chunk_id": self.chunk_id,
            **dict(self.props),
        }


@dataclass
class Hit:
    """A chunk a retriever found, with where it came from (document, page, section)."""

    chunk_id: str
    document_id: str
    document: str  # title
    source_path: str
    section: str
    page_start: int | None
    page_end: int | None
    text: str
    tokens: int
    score: float
    retriever: str
    facts: list[Fact] = field(default_factory=list)
    ranks: dict[str, int] = field(default_factory=dict)  # retriever -> 1-based rank
    unit: str | None = None  # the search unit (row, sentence, warning) that matched best

    @classmethod
    def from_row(cls, row: dict, retriever: str) -> Hit:
        """From a chunk store search row (see ``retrieval.store.ChunkStore``)."""
        return cls(
            chunk_id=row["chunk_id"],
            document_id=row["document_id"],
            document=row["document"],
            source_path=row["source_path"],
            section=row["section"],
            page_start=row["page_start"],
            page_end=row["page_end"],
            text=row["text"],
            tokens=row["tokens"],
            score=float(row["score"]),
            retriever=retriever,
            unit=row.get("unit"),
        )

    @property
    def pages(self) -> str:
        if self.page_start is None:
            return "-"
        if self.page_end is None or self.page_end == self.page_start:
            return str(self.page_start)
        return f"{self.page_start}-{self.page_end}"

    def citation(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "document_id": self.document_id,
            "document": self.document,
            "source_path": self.source_path,
            "page": self.page_start,
            "pages": self.pages,
            "section": self.section,
        }


class Retriever(Protocol):
    name: str

    def retrieve(self, query: str, k: int) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first."""
        ...
