"""No eval question may leak into training data: every generated (and user) question is
compared with the eval questions by normalised text, embedding cosine and word overlap, and
dropped when close; repeated questions are dropped too. Both are reported, never silent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finetune.examples import DEV_SET, DatasetConfig, Exclusions
from finetune.facts import MinedFact
from finetune.templates import normalise
from maint.embed import Embedder

_JACCARD = 0.8  # word overlap at/above which a question counts as a near-duplicate too


@dataclass
class EvalQuestion:
    question: str
    file: str
    id: str


def load_eval_questions(paths: Sequence[Path]) -> list[EvalQuestion]:
    """Questions of the eval files; a broken line is an error, never a silent hole."""
    found: list[EvalQuestion] = []
    for path in paths:
        for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question = row["question"]
                if not isinstance(question, str):
                    raise TypeError("question is not a string")
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{path}:{n}: eval line without a usable 'question' ({exc}); fix the file, "
                    "or its questions could leak into training data"
                ) from exc
            found.append(EvalQuestion(question, str(path), str(row.get("id", n))))
    return found


def eval_paths(exclude: Sequence[Path]) -> list[Path]:
    """The eval files to guard against; the dev set always, whoever calls."""
    paths: dict[Path, Path] = {}
    for p in [*exclude, DEV_SET]:
        if p == DEV_SET and not p.is_file():
            continue
        paths.setdefault(Path(p).resolve(), Path(p))
    return list(paths.values())


class LeakScreen:
    """Embeds each question once (``vectors``, reused for RAFT distractors) and records in
    ``leaks`` the questions too close to an eval question."""

    def __init__(self, embedder: Embedder, config: DatasetConfig, excluded: Exclusions):
        self.embedder, self.cfg, self.drop = embedder, config, excluded.drop
        self.vectors: dict[str, np.ndarray] = {}
        self.leaks: dict[str, dict] = {}

    def set_evals(self, evals: list[EvalQuestion]) -> None:
        self.evals = evals
        self.eval_vectors = self.embedder.embed([e.question for e in evals])
        self.eval_text: dict[str, EvalQuestion] = {}
        for e in evals:
            self.eval_text.setdefault(normalise(e.question), e)
        self.eval_words = [set(normalise(e.question).split()) for e in evals]

    def check(self, questions: Sequence[str]) -> None:
        """Record in ``leaks`` the questions too close to an eval question: the same normalised
        text, an embedding cosine at/above the threshold, or nearly the same words."""
        texts = sorted(set(questions) - self.vectors.keys())
        if not texts:
            return
        vectors = self.embedder.embed(texts)
        self.vectors.update(zip(texts, vectors, strict=True))
        if not self.evals:
            return
        sims = vectors @ self.eval_vectors.T
        for i, q in enumerate(texts):
            text = normalise(q)
            words = set(text.split())
            if text in self.eval_text:
                e, reason, how, score = self.eval_text[text], "eval-verbatim", "same text", 1.0
            else:
                j = int(np.argmax(sims[i]))
                overlap = [len(words & w) / len(words | w) for w in self.eval_words]
                k = int(np.argmax(overlap))
                if sims[i, j] >= self.cfg.near_duplicate_similarity:
                    e, how, score = self.evals[j], "embedding cosine", float(sims[i, j])
                elif len(words) >= 4 and overlap[k] >= _JACCARD:
                    e, how, score = self.evals[k], "word overlap", overlap[k]
                else:
                    continue
                reason = "eval-near-duplicate"
            self.leaks[q] = {
                "reason": reason,
                "detail": f"{how} {score:.3f} with eval question {e.id} ({e.file})",
                "eval_id": e.id,
                "eval_question": e.question,
                "similarity": round(score, 4),
            }

    def screen(self, fact: MinedFact, seen: dict[str, str]) -> MinedFact | None:
        """The fact with its leaking and already-asked questions removed (and reported)."""
        kept = []
        for q in fact.questions:
            text = normalise(q)
            if q in self.leaks:
                self.drop(q, kind=fact.kind, fact=fact.key, **self.leaks[q])
            elif text in seen:
                detail = f"the same question was generated for fact {seen[text]}"
                self.drop(q, "duplicate", detail, kind=fact.kind, fact=fact.key)
            else:
                seen[text] = fact.key
                kept.append(q)
        fact.questions = kept
        return fact if kept else None
