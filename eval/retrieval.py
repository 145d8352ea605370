"""Retrieval metrics against gold evidence: recall@k and MRR, per retriever and fused.

A retrieved chunk holds the evidence when the evidence sentence (or table row) is inside
its text, compared letters and digits only, so table cell separators and line breaks in
the chunk do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence


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


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: Sequence[int | None]) -> float:
    return sum(1 / r for r in ranks if r is not None) / len(ranks) if ranks else 0.0
