"""What keeps a model's text honest: a constraint applied while decoding, so a number can only
be written as one that stands in the quoted lines, and a filter that keeps a degenerate draft
(a loop, an echoed prompt marker, text about something else) from ever being shown."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from retrieval.query import terms

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,/\-]*")
_IN_PROGRESS = re.compile(r"[A-Za-z0-9.,/\-]*$")
_STUTTER = re.compile(r"([^\d\s].{0,5}?)\1{4,}")  # 'B-B-B-B-B', 'the the the the the'
_MARKERS = re.compile(
    r"</?context>|\b(?:Question|Lines|Excerpts?|Context)\s*:|\[instruction|<\|im_(?:start|end)",
    re.I,
)


def allowed_words(texts: Iterable[str]) -> set[str]:
    """Every prefix of every word with a digit in ``texts`` ('95', 'WP-2207-A', '13-18'): what
    a number being written may grow into."""
    out: set[str] = set()
    for text in texts:
        for m in _WORD.finditer(text):
            word = m.group(0).rstrip(".,/-")
            if any(c.isdigit() for c in word):
                out.update(word[:i] for i in range(1, len(word) + 1))
    return out


_DIGIT_TOKENS: dict[int, list[tuple[int, str]]] = {}


def digit_tokens(tokenizer: Any) -> list[tuple[int, str]]:
    """The tokens with a digit, and their text; read once per tokenizer (a second or so)."""
    key = id(tokenizer)
    if key not in _DIGIT_TOKENS:
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        texts = [
            tokenizer.convert_tokens_to_string([p]) if any(c.isdigit() for c in p) else ""
            for p in pieces
        ]
        _DIGIT_TOKENS[key] = [(i, t) for i, t in enumerate(texts) if any(c.isdigit() for c in t)]
    return _DIGIT_TOKENS[key]


class NumberConstraint:
    """A ``transformers`` logits processor: a token with a digit may be chosen only if the word
    it starts or continues is (a prefix of) a word of the allowed texts. Other tokens are
    free, so the model still writes its sentence; it just cannot write an unseen number."""

    def __init__(self, tokenizer: Any, texts: Iterable[str], prompt_len: int):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.allowed = allowed_words(texts)
        self.digit_tokens = digit_tokens(tokenizer)

    def banned(self, generated: str) -> list[int]:
        """Tokens with a digit that would write a word not in the allowed texts."""
        partial = _IN_PROGRESS.search(generated).group(0) if generated else ""
        out = []
        for i, piece in self.digit_tokens:
            word = piece.lstrip() if (piece[:1].isspace() or not partial) else partial + piece
            word = word.split()[0] if word.split() else word
            if word.rstrip(".,") not in self.allowed and word not in self.allowed:
                out.append(i)
        return out

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        for row in range(input_ids.shape[0]):
            text = self.tokenizer.decode(input_ids[row, self.prompt_len :])
            scores[row, self.banned(text)] = float("-inf")
        return scores


def degenerate(draft: str, question: str) -> str | None:
    """Why a draft must not be shown, or None: it loops, echoes a prompt marker, or shares
    no content word with the question."""
    if _MARKERS.search(draft):
        return "echoes the prompt"
    if _STUTTER.search(draft):
        return "repeats itself"
    words = draft.lower().split()
    grams = Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))
    if grams and grams.most_common(1)[0][1] >= 3:
        return "repeats itself"
    sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", draft) if s.strip()]
    if len(sentences) != len(set(sentences)):
        return "repeats itself"
    if not set(terms(draft)) & set(terms(question)):
        return "does not address the question"
    return None
