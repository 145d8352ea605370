"""What retrievers read out of a question: identifier candidates and content terms.

Technicians type part numbers every way (``WP-1143 B``, ``WP1143B``, ``wp-1143-b``); all of
them compact to ``WP1143B`` (``maint.identifiers``), the form the graph keys parts by and the
keyword search matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from maint.identifiers import looks_like_identifier, norm_part_number, split_token, tokens
from maint.units import AMOUNT_UNITS, MEASURE_WORDS

_STOP = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "need",
        "needs",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "use",
        "used",
        "using",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "must",
        "shall",
        "may",
        "might",
        "please",
        "tell",
        "give",
        "show",
        "know",
        "want",
        "find",
        "correct",
        "right",
        "new",
        "old",
        "value",
        "values",
    ]
)
# A few words technicians use for what manuals call by another name.
_SYNONYMS = {
    "tighten": "torque",
    "tightening": "torque",
    "litre": "capacity",
    "liter": "capacity",
    "litres": "capacity",
    "liters": "capacity",
    "hold": "capacity",
    "often": "interval",
    "frequency": "interval",
    "every": "interval",
    "changed": "replace",
    "change": "replace",
    "replacement": "replace",
    "gap": "clearance",
    "play": "clearance",
}


def _code_like(token: str) -> bool:
    return any(ch.isdigit() for ch in token) or (token.isupper() and len(token) <= 4)


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


def identifier_candidates(question: str) -> list[str]:
    """Compacted identifiers a question may contain: single tokens with a digit, and runs of
    up to three tokens that read as one code ('WP-1143 B', 'wp 2207 a', 'FS 1280.2')."""
    found: list[str] = []
    words = tokens(question)
    for i, tok in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prefix = tok.isalpha() and len(tok) <= 4 and tok.lower() not in _STOP and _has_digit(nxt)
        if not (_code_like(tok) or prefix):
            continue
        run = ""
        for j, part in enumerate(words[i : i + 3]):
            tail = (
                j > 0
                and not tok.isdigit()
                and len(part) <= 2
                and (part.lower() not in _STOP or (prefix and len(part) == 1))
                and (part.isupper() or part.isdigit() or prefix)
            )
            if j > 0 and not (_has_digit(part) or tail):
                break
            run += norm_part_number(part)
            # A bare number is searched as a code from five digits on (a stock number typed
            # without its dashes); a shorter one is a value ('2000 hours').
            if looks_like_identifier(run) or (len(run) >= 5 and run.isdigit()):
                found.append(run)
    return list(dict.fromkeys(found))


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    word = word.lower()
    return _STEMMER.stemWord(_SYNONYMS.get(word, word))


def terms(text: str) -> list[str]:
    """Content words, lower-cased and lightly stemmed, in order, without repeats."""
    words = [w for w in tokens(text) if not _code_like(w)]
    words = [p for w in words for p in split_token(w)]
    return list(dict.fromkeys(stem(w) for w in words if w.lower() not in _STOP and len(w) > 1))


def index_terms(text: str) -> list[str]:
    """What BM25 counts in a chunk or a question, repeats kept: every word stemmed (upper-case
    parts-list words such as 'HOLDER, DOOR' included), every token with a digit compacted as
    one code ('MS51957-64' -> 'MS5195764'), and the word pieces of such a token when it is no
    identifier ('60-amp' -> '60AMP', 'amp'; but 'DG-450' is one term, not also 'dg')."""
    out: list[str] = []
    for tok in tokens(text):
        if _has_digit(tok):
            code = norm_part_number(tok)
            if len(code) >= 2:
                out.append(code)
            if looks_like_identifier(tok):
                continue
        for piece in split_token(tok):
            word = piece.lower()
            if piece.isalpha() and len(word) > 1 and word not in _STOP:
                out.append(stem(word))
    return out


_HOW_MUCH = re.compile(r"\bhow much\b", re.I)


def asked_units(question: str) -> set[str]:
    """The SI units a question asks for a value in: 'what torque ...' -> {'N·m'}; 'how much
    grease ...' -> a mass or a volume."""
    asked = set(terms(question))
    found = {si for si, words in MEASURE_WORDS.items() if asked & set(terms(words))}
    if not found and _HOW_MUCH.search(question):
        return set(AMOUNT_UNITS)
    return found
