"""Train the answer selector on the user's own manuals: each question ``maint finetune
dataset`` wrote for a fact is retrieved as a technician's would be, and the candidate lines
holding the fact's values or part numbers are the ones to pick. A logistic model over the
selector's features is fitted on the training questions and kept only if it picks the right
line more often than similarity alone on the validation questions (held-out facts); the
kept one's refusal threshold is set on all of them. The result is ``DATA_DIR/selector.json``.

On the sample manuals the fitted model lost to similarity alone (docs/answers.md), which is
why the shipped selector is similarity with the value rule."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.hybrid import HybridRetriever
from retrieval.query import terms
from retrieval.store import ChunkStore
from serving.answering import guard
from serving.answering.evidence import FEATURES, AnswerUnit, Question, candidate_units, featurise
from serving.answering.prompt import REFUSAL
from serving.answering.selector import SHIPPED, LinearSelector, Selector, fit

KINDS = ("spec", "part", "procedure", "safety", "interval", "unanswerable")
MAX_FALSE_REFUSALS = 0.10  # the threshold refuses at most this share of answerable questions


@dataclass
class Labelled:
    question: str
    kind: str
    split: str  # "train" | "val": validation questions are about held-out facts
    units: list[AnswerUnit]
    labels: list[int]  # 1: the line holds the answer

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def questions(dataset_dir: Path, most: int, seed: int = 0) -> list[tuple[str, str, str, str]]:
    """(question, answer, kind, split) from the closed-book files, at most ``most``."""
    rows = []
    for split in ("train", "val"):
        path = dataset_dir / f"closed_{split}.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            ex = json.loads(line)
            if ex.get("kind") in KINDS:
                msgs = {m["role"]: m["content"] for m in ex["messages"]}
                answer = msgs["assistant"].split("\nSource:")[0]
                rows.append((msgs["user"], answer, ex["kind"], split))
    if not rows:
        raise FileNotFoundError(
            f"{dataset_dir}: no closed_train.jsonl with questions; run `maint finetune dataset`"
        )
    random.Random(seed).shuffle(rows)
    val = [r for r in rows if r[3] == "val"][: max(most // 4, 1)]  # a quarter held out
    return [r for r in rows if r[3] == "train"][: most - len(val)] + val


def label(answer: str, kind: str, units: list[AnswerUnit]) -> list[int]:
    """A line answers if it holds a value or part number of the answer; for answers without
    any (steps, warnings), if most of its words are in the answer."""
    if kind == "unanswerable" or answer.strip() == REFUSAL:
        return [0] * len(units)
    claims = guard.find_claims(answer)
    answer_terms = set(terms(answer))
    out = []
    for u in units:
        if claims:
            index = guard.SourceIndex([u.text])
            out.append(int(any(index.supports(c) for c in claims)))
        else:
            words = set(terms(u.text))
            out.append(int(len(words) >= 3 and len(words & answer_terms) >= 0.6 * len(words)))
    return out


def collect(
    retriever: HybridRetriever,
    store: ChunkStore,
    rows: Iterable[tuple[str, str, str, str]],
    depth: int,
    on_question: Callable[[], None] = lambda: None,
) -> list[Labelled]:
    out = []
    for question, answer, kind, split in rows:
        r = retriever.retrieve(question)
        q = Question.of(question)
        units = candidate_units(store, r, r.embedding, depth)
        featurise(q, units, r, store.term_weights(q.subject))
        out.append(Labelled(question, kind, split, units, label(answer, kind, units)))
        on_question()
    return out


def right_rate(selector: Selector, data: list[Labelled]) -> float:
    """Share of answerable questions whose best-scored line is a right one."""
    graded = [d for d in data if d.answerable and any(d.labels)]
    right = 0
    for d in graded:
        selector.score(d.units)
        top = max(range(len(d.units)), key=lambda i: d.units[i].score)
        right += d.labels[top]
    return right / len(graded) if graded else 0.0


def train(data: list[Labelled]) -> tuple[LinearSelector, dict]:
    """Fit, compare with similarity alone on the validation questions, keep the better, set
    its threshold; returns the selector and a report."""
    usable = [d for d in data if d.units]
    fit_on = [d for d in usable if d.split == "train"] or usable
    held_out = [d for d in usable if d.split == "val"] or usable
    x = np.vstack([u.vector() for d in fit_on for u in d.units])
    y = np.array([lab for d in fit_on for lab in d.labels], dtype=np.float64)
    w, b = fit(x, y)
    fitted = LinearSelector(dict(zip(FEATURES, map(float, w), strict=True)), bias=b, gap=1.0)
    similarity = LinearSelector.load(SHIPPED)
    scores = {
        "fitted": right_rate(fitted, held_out),
        "similarity": right_rate(similarity, held_out),
    }
    kept = fitted if scores["fitted"] > scores["similarity"] else similarity
    best = []
    for d in usable:
        kept.score(d.units)
        best.append((max(u.score for u in d.units), d.answerable))
    kept.threshold = refusal_threshold(best)
    report = {
        "questions": len(data),
        "train": len(fit_on),
        "val": len(held_out),
        "unanswerable": sum(not d.answerable for d in data),
        "val_best_line_right": {k: round(v, 3) for k, v in scores.items()},
        "kept": "fitted" if kept is fitted else "similarity",
        "threshold": round(kept.threshold, 4),
    }
    kept.trained_on = report
    return kept, report


def refusal_threshold(best: list[tuple[float, bool]]) -> float:
    """The threshold that refuses most unanswerable questions while refusing at most
    ``MAX_FALSE_REFUSALS`` of the answerable ones (their best lines' scores)."""
    answerable = sorted(s for s, a in best if a)
    if not answerable:
        return float("-inf")
    return answerable[int(MAX_FALSE_REFUSALS * len(answerable))]
