"""Retrieval metrics against gold evidence: recall@k and MRR, per retriever and fused.

Two kinds of gold evidence:

- **text** (``data/eval/dev.jsonl``): a retrieved chunk holds the evidence when the evidence
  sentence (or table row) is inside its text, compared letters and digits only, so table
  cell separators and line breaks in the chunk do not matter;
- **a page** (real manuals, ``../shared/real-manuals/qa.jsonl``): the evidence is quoted from
  another extraction of the PDF, in fragments that may span pages, so a retrieved passage
  holds it when it comes from the evidence's document and its pages include the evidence
  page: "the evidence page is among the sources".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath


def compact(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def evidence_rank(texts: Sequence[str], evidence: str) -> int | None:
    """1-based rank of the first text (a retrieved chunk) containing the evidence, None if
    none does."""
    needle = compact(evidence)
    for rank, text in enumerate(texts, start=1):
        if needle and needle in compact(text):
            return rank
    return None


@dataclass(frozen=True)
class Passage:
    """What a retriever returned, as the metrics see it: its text and where it lies."""

    text: str
    source: str = ""  # the document's file (any path; its name is compared)
    page_start: int | None = None
    page_end: int | None = None


@dataclass(frozen=True)
class Gold:
    """A question's gold evidence: its text, and its document and page when they are known."""

    evidence: str = ""
    doc: str | None = None
    page: int | None = None

    @property
    def by_page(self) -> bool:
        return self.page is not None and bool(self.doc)

    def held_by(self, passage: Passage) -> bool:
        if self.by_page:
            if PurePath(passage.source).name != PurePath(self.doc or "").name:
                return False
            first = passage.page_start
            return first is not None and first <= self.page <= (passage.page_end or first)
        return evidence_rank([passage.text], self.evidence) is not None


def gold_rank(passages: Sequence[Passage], gold: Gold) -> int | None:
    """1-based rank of the first passage holding the gold evidence, None if none does."""
    return next((rank for rank, p in enumerate(passages, start=1) if gold.held_by(p)), None)


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Sequence[int | None]) -> float:
    return sum(1 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0
