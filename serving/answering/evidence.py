"""Answer units: the table rows, sentences and safety blocks of the retrieved chunks, each
with the chunk (document, page, section) it stands in, and what a selector reads about each
one against the question.

An answer quoted from the right unit is what a technician can act on: the generator of a
small model does not reliably copy the right row out of 1,500 tokens, but retrieval has
usually found it (recall@20 of the chunk is 1.0 on the real-manual set).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from maint.identifiers import (
    contains_compacted,
    cued_part_numbers,
    model_codes,
    stock_number_keys,
)
from maint.units import MEASURE_WORDS, units_in
from retrieval.base import Hit
from retrieval.hybrid import Retrieval
from retrieval.query import asked_units, identifier_candidates, terms
from retrieval.store import ChunkStore
from serving.answering.kinds import QuestionKind, question_kind
from serving.answering.prompt import neutralise

# What a selector reads about a unit, in this order (``selector.json`` weights name them).
FEATURES = (
    "similarity",  # cosine of the unit's embedding to the question's
    "coverage",  # share of the question's words (IDF-weighted) in the unit
    "subject",  # the same for the question's non-measure words, in the unit or its section
    "chunk_rank",  # 1 / (1 + the chunk's fused rank)
    "asked_unit",  # the question asks for a torque (say) and the unit holds one
    "missing_unit",  # it asks for one and the unit holds none
    "has_number",  # the unit holds a number, and the question asks for a value or a part
    "identifier",  # a part number of the question (not the machine's model) is in the unit
    "kind_match",  # a parts-list row for a part question, a warning for a safety question
    "graph",  # it holds a value or part number of a graph fact (a value or part question)
    "similarity_x_coverage",
    "number_match",  # share of the question's bare numbers ('75' % load) in the unit
    "names_part",  # a parts-list row, or a line naming a P/N or stock number
    "model_match",  # a code of the question ('5300GP') is in the unit's manual title or section
    "model_other",  # its section names another model, where other candidates' name the asked one
    "states_value",  # a value question, and the unit states one (not just an item callout '(7)')
)
_GENERIC = frozenset(
    terms("what which how many much is are the do does get for on of a an and should i we my me")
)


@dataclass
class AnswerUnit:
    """One quotable line of a retrieved chunk."""

    text: str
    kind: str  # row, part_row, sentence, safety
    hit: Hit  # the chunk it stands in: document, pages, section
    ordinal: int  # its place in the chunk
    similarity: float
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    withheld: bool = False  # instruction-like text in it was replaced (prompt.neutralise)
    # Share of the question's subject (weighted by rarity) in the line itself or the lines
    # shown with it, not its section: what the line is about (see ``selector._holds_value``).
    own_subject: float = 0.0

    @property
    def chunk_id(self) -> str:
        return self.hit.chunk_id

    @cached_property
    def words(self) -> set[str]:
        """Its content words and bare numbers (read once: features and selection share it)."""
        return line_words(self.text) | set(numbers(self.text))

    @cached_property
    def values(self) -> set[str]:
        """SI units of its values; a table row also read with its cells joined, so
        '72.8 | L/h' under 'Value | Unit' counts as 72.8 L/h."""
        found = units_in(self.text)
        if self.kind in ("row", "part_row"):
            found |= units_in(self.text.split("\n", 1)[-1].replace(" | ", " "))
        return found

    def vector(self) -> np.ndarray:
        return np.array([self.features[f] for f in FEATURES], dtype=np.float64)

    def quote(self) -> str:
        """The unit as one readable line: a table row as 'header: cell; ...' (cells verbatim)."""
        if self.kind in ("row", "part_row") and "\n" in self.text:
            header, row = self.text.split("\n", 1)
            pairs = list(zip(header.split(" | "), row.split(" | "), strict=False))
            cells: list[str] = []
            for h, c in pairs:
                h, c = h.strip(), c.strip()
                if cells and c and _is_unit(c) and re.search(r"\d$", cells[-1]):
                    cells[-1] += f" {c}"  # 'Value | Unit' tables: '72.8 | L/h' is 72.8 L/h
                elif c:
                    cells.append(f"{h}: {c}" if h else c)
            return "; ".join(cells)
        return " ".join(self.text.split())


def candidate_units(
    store: ChunkStore, retrieval: Retrieval, embedding: np.ndarray, depth: int
) -> list[AnswerUnit]:
    """The units of the ``depth`` best fused chunks, near-duplicates (OCR repeats) once, and
    no row of an index or a table of contents (it points to the answer, it is not one)."""
    hits = {h.chunk_id: h for h in retrieval.fused[:depth]}
    out: list[AnswerUnit] = []
    seen: set[str] = set()
    for row in store.units_of(list(hits), embedding):
        key = re.sub(r"\W+", "", row["text"].lower())
        if key in seen or (row["kind"] == "row" and is_pointer_row(row["text"])):
            continue
        seen.add(key)
        text, withheld = neutralise(row["text"])  # manual text is data, never instructions
        out.append(
            AnswerUnit(
                text=text,
                kind=row["kind"],
                hit=hits[row["chunk_id"]],
                ordinal=row["ordinal"],
                similarity=row["similarity"],
                withheld=withheld,
            )
        )
    return out


_REFERENCE = r"\d{1,2}\s?-\s?\d{1,3}[a-z]?"
_REFERENCES = re.compile(rf"{_REFERENCE}(?:\s*,\s*{_REFERENCE})*")


def is_pointer_row(text: str) -> bool:
    """A row of an index or contents table: every cell after the first a paragraph or page
    reference ('Securing shelter on 1-1/4 ton truck | 3- 4', 'Removal | 2-21b | 2-188').
    Its numbers are where to read, not values ('1-1/4 ton' names the truck)."""
    row = text.split("\n", 1)[-1]
    cells = [c.strip() for c in row.split(" | ")]
    return len(cells) > 1 and all(_REFERENCES.fullmatch(c) for c in cells[1:])


@dataclass
class Question:
    """What features read out of a question once."""

    text: str
    kind: QuestionKind
    terms: list[str]  # content words, and bare numbers ('75' of '75 % load')
    subject: list[str]  # its words that are not measure words ('torque', 'clearance')
    units: set[str]  # SI units it asks a value in
    identifiers: list[str]
    numbers: list[str]

    @classmethod
    def of(cls, text: str) -> Question:
        words = [t for t in terms(text) if t not in _GENERIC] + numbers(text)
        asked = asked_units(text)
        measure_words = set(terms(" ".join(MEASURE_WORDS[u] for u in asked)))
        return cls(
            text=text,
            kind=question_kind(text),
            terms=words,
            subject=[t for t in words if t not in measure_words],
            units=asked,
            identifiers=identifier_candidates(text),
            numbers=numbers(text),
        )


_BARE_NUMBER = re.compile(r"(?<![\w./-])\d+(?:[.,/]\d+)*(?![\w/]|-[^\d])")


def numbers(text: str) -> list[str]:
    """Bare numbers ('75' in 'at 75 % load', '1/4' in 'a 1/4-20 screw'), not the digits of a
    code ('DG-450', '60-amp')."""
    return list(dict.fromkeys(m.group(0) for m in _BARE_NUMBER.finditer(text)))


def line_words(text: str) -> set[str]:
    """The content words of a manual's line, capitals included: parts lists and headings
    print 'LOCK, DOOR' and 'DRIVE END BELL', which ``terms`` alone skips as codes (a short
    word in capitals reads as one in a question)."""
    return set(terms(text)) | set(terms(text.lower()))


def _is_unit(cell: str) -> bool:
    """'L/h', 'N·m', 'bar': a cell that is a unit and nothing else."""
    return not any(ch.isdigit() for ch in cell) and bool(units_in(f"1 {cell}"))


def featurise(
    q: Question,
    units: list[AnswerUnit],
    retrieval: Retrieval,
    rarity: dict[str, float] | None = None,
) -> None:
    """Fill each unit's ``features`` (see ``FEATURES``) and ``own_subject``. IDF is over the
    candidates, so a word every candidate shares (the machine's name) counts for little;
    ``own_subject`` weighs the question's words by ``rarity`` in the whole corpus
    (``ChunkStore.term_weights``) where given: 'injector' outweighs 'engine' even when every
    candidate is about injectors."""
    if not units:
        return
    rank = {h.chunk_id: i for i, h in enumerate(retrieval.fused)}
    unit_terms = [u.words for u in units]
    context = {u.chunk_id: line_words(f"{u.hit.document} {u.hit.section}") for u in units}
    df = Counter(t for ts in unit_terms for t in ts)
    idf = {t: math.log(1 + len(units) / (df[t] + 0.5)) for t in q.terms}
    total = sum(idf.values()) or 1.0
    # Subject coverage is over the question's words that some candidate has: a word no
    # candidate has ('bench', 'good', 'go') cannot tell one line from another.
    seen = set().union(*unit_terms, *context.values())
    subject_terms = [t for t in q.subject if t in seen]
    subject_total = sum(idf[t] for t in subject_terms) or 1.0
    weights = rarity or idf
    rare = {t: weights.get(t, idf[t]) for t in subject_terms}
    rare_total = sum(rare.values()) or 1.0
    fact_values = _graph_values(retrieval)
    wants_value = q.kind in ("spec", "part_number", "interval")
    other = _other_model(q, units)
    near = _neighbours(units)
    chunk_words: dict[str, set[str]] = {}
    for u, ts in zip(units, unit_terms, strict=True):
        # A sentence is shown with the sentences either side of it (compose.shown_units), so
        # it holds the values they hold: 'check sliprings resistance.' + 'Must be 1.8 to 2.0 ohms.'
        held = u.values.union(*(x.values for x in near.get(id(u), [])))
        coverage = sum(idf[t] for t in q.terms if t in ts) / total
        own = ts.union(*(x.words for x in near.get(id(u), [])))
        u.own_subject = sum(rare[t] for t in subject_terms if t in own) / rare_total
        around = ts | context[u.chunk_id]
        if u.kind in ("row", "part_row"):  # a row is read under its table's title and text
            if u.chunk_id not in chunk_words:
                chunk_words[u.chunk_id] = line_words(u.hit.text)
            around = around | chunk_words[u.chunk_id]
        u.features = {
            "similarity": u.similarity,
            "coverage": coverage,
            "subject": sum(idf[t] for t in subject_terms if t in around) / subject_total,
            "chunk_rank": 1.0 / (1 + rank.get(u.chunk_id, len(rank))),
            "asked_unit": float(bool(q.units & held)),
            "missing_unit": float(bool(q.units) and not (q.units & held)),
            "has_number": float(wants_value and bool(re.search(r"\d", u.text))),
            "identifier": float(any(contains_compacted(u.text, i) for i in _parts(q, u))),
            "kind_match": float(
                (q.kind == "part_number" and u.kind == "part_row")
                or (q.kind == "safety" and u.kind == "safety")
            ),
            "graph": float(wants_value and any(v in u.text for v in fact_values)),
            "similarity_x_coverage": u.similarity * coverage,
            "number_match": sum(n in ts for n in q.numbers) / len(q.numbers) if q.numbers else 0.0,
            "model_match": float(
                any(
                    contains_compacted(f"{u.hit.document} {u.hit.section}", i)
                    for i in q.identifiers
                )
            ),
            "model_other": float(u.chunk_id in other),
            "states_value": float(q.kind in ("spec", "interval") and states_value(u.text)),
            "names_part": float(
                u.kind == "part_row" or bool(cued_part_numbers(u.text) or stock_number_keys(u.text))
            ),
        }


_CALLOUT = re.compile(
    r"\(\s*\d{1,3}\s*\)|^\s*\(?\d{1,2}[.)](?=\s)|\b(?:figure|fig\.?|table|step|item|index|para(?:graph)?)\s+[\d-]+",
    re.I,
)
_VALUE_NUMBER = re.compile(r"\d*\.\d+|\d+\s*/\s*\d+|\d+")


def states_value(text: str) -> bool:
    """Does a line state a value: a number with a unit, or a number that is not an item
    callout ('(7)'), a step number or a figure, table or step reference? 'Measure outside
    diameter of rotor shaft (7).' states none; '7 | Outside diameter ... | 0.7874 to 0.7877'
    does."""
    if units_in(text):
        return True
    return bool(_VALUE_NUMBER.search(_CALLOUT.sub(" ", text)))


def _neighbours(units: list[AnswerUnit]) -> dict[int, list[AnswerUnit]]:
    """The prose units either side of each prose unit in its chunk: what the answer shows
    with it (compose.shown_units), so what it is judged with."""
    by_chunk: dict[str, list[AnswerUnit]] = {}
    for u in units:
        by_chunk.setdefault(u.chunk_id, []).append(u)
    out: dict[int, list[AnswerUnit]] = {}
    prose = ("sentence", "safety")
    for same in by_chunk.values():
        same.sort(key=lambda x: x.ordinal)
        for i, u in enumerate(same):
            if u.kind not in prose:
                continue
            out[id(u)] = [
                x
                for x in (same[i - 1] if i else None, same[i + 1] if i + 1 < len(same) else None)
                if x is not None and x.kind in prose and abs(x.ordinal - u.ordinal) == 1
            ]
    return out


def _other_model(q: Question, units: list[AnswerUnit]) -> set[str]:
    """Chunks whose section is about another model than the one the question names: the
    same check on the 3002AD (7.0 to 7.8 ohms) is the wrong answer for the 2184AC. Only when
    some candidate's title or section names the question's code (so it is a model these
    manuals have sections for, not a value like '60-amp')."""
    if not q.identifiers:
        return set()
    agree = {
        u.chunk_id
        for u in units
        if any(contains_compacted(f"{u.hit.document} {u.hit.section}", i) for i in q.identifiers)
    }
    if not agree:
        return set()
    return {u.chunk_id for u in units if u.chunk_id not in agree and model_codes(u.hit.section)}


def _parts(q: Question, u: AnswerUnit) -> list[str]:
    """The question's identifiers that are not the machine its manual is about ('WP-2207-A',
    not 'P-200'): those single out a row, a model name is in every line of its manual."""
    title = f"{u.hit.document} {u.hit.section}"
    return [i for i in q.identifiers if not contains_compacted(title, i)]


def _graph_values(retrieval: Retrieval) -> set[str]:
    """The values and part numbers of the graph facts linked to the question (hybrid mode):
    a unit holding one is the row the graph read the fact from."""
    out: set[str] = set()
    for fact in retrieval.facts:
        if fact.kind == "part":
            out.add(fact.subject)
        elif fact.value:
            out.update(v.strip() for v in re.split(r"[/()]", fact.value) if len(v.strip()) > 2)
    return out
