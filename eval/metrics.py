"""Domain metrics on answers: is the required value or part number there, did the model
refuse, and did it name anything the manuals do not contain.

Answers and reference strings are compared after the same normalisation (case, dashes,
spaces, thousands separators, unit spellings), so '80 Nm' counts as '80 N·m' but '8 N·m'
or '80 lbf·ft' do not. Hallucinations are found with the serving guard's own rules, so the
metric and the guard can never disagree about what counts as supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from eval.retrieval import evidence_rank
from maint.identifiers import dash_nsns
from maint.units import VALUE_WITH_UNIT, value_norm
from retrieval.query import terms
from serving.answering.guard import Claim, SourceIndex, check_against, find_claims

REFUSAL = "not in the documentation"

_SPACES = re.compile(r"[\u00a0\u2007\u2009\u200a\u202f]")
_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2212]")
_THOUSANDS = re.compile(r"(?<=\d)[,\u2009\u202f](?=\d{3}(?!\d))")  # '2,000', '2 000' (thin)


def normalise_answer_text(text: str) -> str:
    """'80 Nm', '80 N-m' and '80 N·m' read alike; so do '2,000 h' and '2000 h', 'FLT‑77210'
    and 'flt-77210'. Numbers keep their written digits ('0.30' is not made '0.3')."""
    text = _DASHES.sub("-", _SPACES.sub(" ", _THOUSANDS.sub("", text)))
    text = dash_nsns(text)
    text = VALUE_WITH_UNIT.sub(lambda m: value_norm(m.group("value"), m.group("unit")), text)
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _present(needle: str, haystack: str) -> bool:
    """Containment that respects where items end: '38 l' is not in '138 l' or '38 lb', '24'
    is not in '24.5', FLT-77210 is not in FLT-772101; a word may be inflected ('seal' is in
    'seals', 'cooler' in 'coolers'), as the dev set's word items expect."""
    if not needle:
        return True
    before = r"(?<!\w)(?<!\d[.,])" if re.match(r"\w", needle) else ""
    after = r"(?!\w)(?![.,]\d)" if re.search(r"\d", needle) and re.search(r"\w$", needle) else ""
    return re.search(before + re.escape(needle) + after, haystack) is not None


def missing_items(answer: str, must_contain: Sequence[str]) -> list[str]:
    """The required strings the answer lacks (after normalising both)."""
    norm = normalise_answer_text(answer)
    return [m for m in must_contain if not _present(normalise_answer_text(m), norm)]


def contains_all(answer: str, must_contain: Sequence[str]) -> bool:
    return not missing_items(answer, must_contain)


_DOCS = (
    r"(?:documentation|docs|manuals?|documents?|corpus|sources?|context|parts lists?"
    r"|bulletins?)"
)
_VERBS = (
    r"(?:give|contain|cover|state|include|list|specify|provide|document|describe|mention|say"
    r"|show)"
)
_REFUSALS = [
    re.compile(p)
    for p in (
        r"\bnot in the " + _DOCS + r"\b",
        _DOCS + r"\b[^.;]{0,60}?\b(?:does|do|did)\s*(?:not|n't)\s+" + _VERBS + r"\b",
        _DOCS + r"\b[^.;]{0,60}?\b(?:gives?|contains?|lists?|provides?|has|have)\s+no\b",
        _DOCS + r"\b[^.;]{0,40}?\b(?:gives?|lists?|states?|covers?|mentions?|specifies)\b"
        r"[^.;]{0,80}?\bbut not\b",
        r"\bnot (?:covered|given|stated|listed|included|documented|specified|provided|found"
        r"|mentioned|described|available)\b[^.;]{0,40}?\b(?:in|by) (?:the|any|these|this) "
        + _DOCS
        + r"\b",
        r"\bno information\b",
        r"\b(?:i|we) (?:cannot|can't|could not|couldn't|can not) find\b",
    )
]


def is_refusal(answer: str) -> bool:
    """'This is not in the documentation.' and the ways a model says the same about the
    manuals ('the manual does not give', 'the parts list does not include', 'no
    information'); a plain 'No.' or 'no action required' is an answer, not a refusal."""
    text = normalise_answer_text(answer).replace("’", "'")
    return any(p.search(text) for p in _REFUSALS)


def hallucinated_items(answer: str, corpus: Iterable[str] | SourceIndex) -> list[Claim]:
    """Part numbers and values in ``answer`` found nowhere in ``corpus`` (texts, or an index
    built once from them with ``SourceIndex``)."""
    index = corpus if isinstance(corpus, SourceIndex) else SourceIndex(corpus)
    return check_against(answer, index).unsupported


# -- safety and citations ---------------------------------------------------------------------

_HAZARD = re.compile(r"\b(?:never|do not|must not|danger|warning|caution|immediately)\b", re.I)


def is_safety_item(item: dict) -> bool:
    """Safety questions, and procedure questions whose evidence is a warning ('never ...',
    'do not ...'): the ones whose answer must pass the warning on."""
    kind = item.get("answer_type")
    return kind == "safety" or (
        kind == "procedure" and bool(_HAZARD.search(item.get("evidence") or ""))
    )


def carries_warning(answer: str, item: dict, min_share: float = 0.5) -> bool:
    """The answer passes the evidence's warning on: every required item is there, and at
    least ``min_share`` of the warning's content words (stemmed: 'cool' is in 'cooled')."""
    if missing_items(answer, item.get("must_contain") or []):
        return False
    words = terms(item.get("evidence") or "")
    if not words:
        return True
    said = set(terms(answer))
    return sum(w in said for w in words) / len(words) >= min_share


def holds_evidence(text: str, evidence: str) -> bool:
    """Letters and digits only, so a table row's cell separators or a line break in the chunk
    do not matter (the retrieval metrics use the same rule)."""
    return evidence_rank([text], evidence) is not None


def cited_numbers(answer: str) -> set[int]:
    return {int(n) for n in _CITE.findall(answer)}


_CITE = re.compile(r"\[(\d{1,2})\]")


# -- one answer ---------------------------------------------------------------------------------


@dataclass
class AnswerScore:
    """One answer to one dataset row, every domain metric's input for it."""

    id: str
    answer_type: str
    correct: bool  # answerable: every must_contain item present; unanswerable: refused
    refused: bool
    missing: list[str] = field(default_factory=list)  # must_contain items not found
    # Part numbers/NSNs and values with units, as written in the answer:
    invented_parts: list[str] = field(default_factory=list)  # found nowhere in the corpus
    invented_values: list[str] = field(default_factory=list)
    unsupported_parts: list[str] = field(default_factory=list)  # in the corpus, not the gold
    unsupported_values: list[str] = field(default_factory=list)
    safety_covered: bool | None = None  # None: not a safety question
    citation_correct: bool | None = None  # None: nothing cited, or no evidence to check

    @property
    def hallucinated(self) -> list[str]:
        """Items found nowhere in the corpus (what the serving guard must never let through)."""
        return self.invented_parts + self.invented_values

    @property
    def part_hallucination(self) -> bool:
        return bool(self.invented_parts or self.unsupported_parts)

    @property
    def value_hallucination(self) -> bool:
        return bool(self.invented_values or self.unsupported_values)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "part_hallucination": self.part_hallucination,
            "value_hallucination": self.value_hallucination,
        }


def score_answer(
    answer: str,
    item: dict,
    corpus_index: SourceIndex | None,
    cited_texts: Sequence[str] | None = None,
) -> AnswerScore:
    """Score one answer to one dev.jsonl row. A refusal that still names the required items
    counts as correct for an answerable question (``refused`` tells the two apart).

    A part number or value is *invented* when the corpus has it nowhere, and *unsupported*
    when the corpus has it but neither the gold evidence, the reference answer nor the
    question does (a real part number of the wrong item). ``cited_texts``: the chunks the
    answer's [n] markers point to."""
    refused = is_refusal(answer)
    must = item.get("must_contain") or []
    unanswerable = item.get("answer_type") == "unanswerable"
    missing = [] if unanswerable else missing_items(answer, must)
    gold = SourceIndex(
        [item.get("evidence") or "", item.get("answer") or "", item.get("question") or ""]
    )
    score = AnswerScore(
        id=str(item.get("id", "")),
        answer_type=str(item.get("answer_type", "")),
        correct=refused if unanswerable else not missing,
        refused=refused,
        missing=missing,
    )
    for claim in find_claims(answer):
        if corpus_index is not None and not corpus_index.supports(claim):
            bucket = score.invented_parts if claim.kind == "part_number" else score.invented_values
        elif not gold.supports(claim):
            bucket = (
                score.unsupported_parts if claim.kind == "part_number" else score.unsupported_values
            )
        else:
            continue
        bucket.append(claim.text)
    if is_safety_item(item):
        score.safety_covered = carries_warning(answer, item)
    if cited_texts and item.get("evidence"):
        score.citation_correct = any(holds_evidence(t, item["evidence"]) for t in cited_texts)
    return score
