"""Selectors rank answer units against a question; the best one or few become the answer.

``LinearSelector`` scores a unit by a weighted sum over ``evidence.FEATURES``. The shipped
weights (``selector.json`` beside this module) are the line's similarity to the question with
small bonuses and a penalty read off both dev sets (model agreement, a stated value, a
parts-list row): in the comparison in ``docs/answers.md``, weights fitted on the sample
manuals did no better on either set. ``maint finetune selector`` fits weights on the questions
``maint finetune dataset`` wrote for the user's own manuals and keeps them in
``DATA_DIR/selector.json`` if they beat similarity there. Rules on top of the score (see
``select``) do what a weight cannot: a value question is answered only by a line holding
such a value. Microseconds a unit: selection costs nothing next to retrieval.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maint.errors import MaintError
from maint.identifiers import contains_compacted, model_codes
from serving.answering.evidence import FEATURES, AnswerUnit, Question

SHIPPED = Path(__file__).resolve().parent / "selector.json"
FILE_NAME = "selector.json"


class SelectorError(MaintError):
    """A selector file is missing, unreadable or for other features; the message says which."""


class Selector(ABC):
    name: str
    threshold: float  # below it, no unit answers the question: refuse
    gap: float
    min_subject: float = 0.3
    min_own_subject: float = 0.3

    @abstractmethod
    def score(self, units: list[AnswerUnit]) -> None:
        """Set each unit's ``score`` (higher is better) from its ``features``."""


@dataclass
class LinearSelector(Selector):
    weights: dict[str, float]
    bias: float = 0.0
    threshold: float = 0.0
    gap: float = 1.0  # a further unit joins the answer if it scores within this of the best
    min_subject: float = 0.3  # see ``_holds_value``
    min_own_subject: float = 0.3  # see ``_holds_value``
    trained_on: dict = field(default_factory=dict)  # what the weights were fitted on
    name: str = "linear"

    def score(self, units: list[AnswerUnit]) -> None:
        w = np.array([self.weights.get(f, 0.0) for f in FEATURES])
        for u in units:
            u.score = float(u.vector() @ w + self.bias)

    def save(self, path: Path) -> None:
        data = {
            "features": list(FEATURES),
            "weights": self.weights,
            "bias": self.bias,
            "threshold": self.threshold,
            "gap": self.gap,
            "min_subject": self.min_subject,
            "min_own_subject": self.min_own_subject,
            "trained_on": self.trained_on,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearSelector:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            weights = {f: float(data["weights"][f]) for f in data["features"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SelectorError(
                f"selector file {path} is unreadable ({exc}); delete it to use the shipped "
                "weights, or rebuild it with `maint finetune selector`"
            ) from exc
        unknown = set(weights) - set(FEATURES)
        if unknown:
            raise SelectorError(
                f"selector file {path} has weights for unknown features {sorted(unknown)}; "
                "rebuild it with `maint finetune selector`"
            )
        return cls(
            weights=weights,
            bias=float(data.get("bias", 0.0)),
            threshold=float(data.get("threshold", 0.0)),
            gap=float(data.get("gap", 1.0)),
            min_subject=float(data.get("min_subject", 0.3)),
            min_own_subject=float(data.get("min_own_subject", 0.3)),
            trained_on=data.get("trained_on") or {},
        )


def load_selector(data_dir: Path) -> LinearSelector:
    """The workspace's calibrated selector, else the shipped one."""
    own = data_dir / FILE_NAME
    return LinearSelector.load(own if own.exists() else SHIPPED)


def select(
    q: Question, units: list[AnswerUnit], selector: Selector, most: int = 3
) -> list[AnswerUnit]:
    """The best unit (for a value question, the best holding such a value), then (best first)
    units within the selector's gap that add a word or a kind of value the question asks for
    and the chosen ones lack: "torque for the screws and for the plugs" gets both rows, a
    repeat of the first row's facts gets nothing. None: nothing answers, refuse."""
    selector.score(units)
    if _names_absent_model(q, units):
        return []
    ranked = sorted(units, key=lambda u: -u.score)
    holding = [u for u in ranked if _holds_value(q, u, selector)]
    if not holding:
        return []
    best = holding[0]  # for a value question, the best line that holds such a value
    picked = [best]
    covered = best.words & set(q.terms)
    covered_units = best.values & q.units
    for u in ranked:
        if u is best:
            continue
        if len(picked) >= most or u.score < best.score - selector.gap:
            break
        words = (u.words & set(q.terms)) - covered
        values = (u.values & q.units) - covered_units
        if not words and not values:
            continue
        picked.append(u)
        covered |= words
        covered_units |= values
    return picked


def _names_absent_model(q: Question, units: list[AnswerUnit]) -> bool:
    """The question names a model or code ('P-300', '3392R12P') that no candidate line, title
    or section names: the manuals found are about other equipment, so whatever they say about
    it is not the answer."""
    where = [f"{u.text} {u.hit.document} {u.hit.section}" for u in units]
    return any(not any(contains_compacted(w, code) for w in where) for code in model_codes(q.text))


def _holds_value(q: Question, u: AnswerUnit, selector: Selector) -> bool:
    """A question for a value of some kind ('what torque ...') is answered only by a line that
    holds a value of that kind and shares ``min_subject`` of the question's other words, in
    the line or its section: the manual describing the job but giving no torque is the
    commonest near miss. The line itself (with the lines shown beside it) must also name
    ``min_own_subject`` of them, weighed by rarity: the radiator cap's opening pressure is no
    answer to the injectors', though its section is the engine's data too."""
    if q.kind == "part_number":  # likewise a part question: a line naming a part number
        return u.features["names_part"] > 0 and u.features["subject"] >= selector.min_subject
    if q.kind != "spec" or not q.units:
        return True
    return (
        bool(u.features["asked_unit"])
        and u.features["subject"] >= selector.min_subject
        and u.own_subject >= selector.min_own_subject
    )


def fit(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 3000, lr: float = 0.5
) -> tuple[np.ndarray, float]:
    """Logistic regression by gradient descent, classes balanced (few units answer a
    question). Returns weights and bias; numpy only, a second on thousands of units."""
    pos = max(y.sum(), 1.0)
    neg = max(len(y) - y.sum(), 1.0)
    sample = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / std
    w = np.zeros(x.shape[1])
    b = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - y) * sample
        w -= lr * (z.T @ g / len(y) + l2 * w / len(y))
        b -= lr * g.mean()
    # Back to unstandardised features, so scoring needs no statistics.
    return w / std, float(b - (w * mean / std).sum())
