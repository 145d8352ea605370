"""A short extractive answer: the source's own sentence (or graph fact), quoted with its
number. Used when the model's draft names something the sources do not contain: a verbatim
line with its page is what a technician can check and trust."""

from __future__ import annotations

import math
import re
from collections import Counter

from maint.identifiers import contains_compacted
from maint.units import find_quantities
from retrieval.base import Fact, Hit
from retrieval.query import identifier_candidates, terms
from serving.answering.prompt import neutralise

# Said first, so a quote is never read as the answer to a question the manual may not answer.
UNVERIFIED_LEAD = "Could not verify a generated answer against the manuals. Closest source lines:"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def _candidates(hits: list[Hit], facts: list[Fact]) -> list[tuple[str, int]]:
    numbers = {h.chunk_id: n for n, h in enumerate(hits, start=1)}
    out: list[tuple[str, int]] = []
    for f in facts:
        if f.kind in ("spec", "part", "interval") and f.chunk_id in numbers:
            out.append((f.text, numbers[f.chunk_id]))
    for n, h in enumerate(hits, start=1):
        text, _ = neutralise(h.text)
        for line in text.split("\n"):
            out += [(s.strip(), n) for s in _SENTENCE.split(line) if len(s.strip()) > 12]
    return out


def extractive_answer(question: str, hits: list[Hit], facts: list[Fact], most: int = 2) -> str:
    """The one or two lines of the context that share most of the question's words."""
    cands = _candidates(hits, facts)
    wanted = set(terms(question))
    if not cands or not wanted:
        return ""
    words = [set(terms(t)) for t, _ in cands]
    df = Counter(w for ws in words for w in ws)
    ids = identifier_candidates(question)
    scored = []
    for (text, n), ws in zip(cands, words, strict=True):
        matched = wanted & ws
        score = sum(math.log(1 + len(cands) / df[w]) for w in matched)
        if find_quantities(text) or any(contains_compacted(text, i) for i in ids):
            score *= 1.3
        score /= math.sqrt(max(len(ws), 6) / 6)
        if score > 0:
            scored.append((score, text, n))
    scored.sort(key=lambda x: -x[0])
    picked: list[tuple[str, int]] = []
    for score, text, n in scored:
        if len(picked) == most or score < 0.6 * scored[0][0]:
            break
        if all(text != t for t, _ in picked):
            picked.append((text, n))
    if not picked:
        return ""
    quotes = "\n".join(f'"{text}" [{n}]' for text, n in picked)
    return f"{UNVERIFIED_LEAD}\n{quotes}"
