"""Evaluation questions: the ``data/eval/dev.jsonl`` format, validated line by line.

One JSON object per line::

    {"id": "p200-001", "question": "...", "answer": "reference answer",
     "answer_type": "spec", "must_contain": ["95 N·m"], "evidence": "sentence from the manual",
     "doc": "p200-centrifugal-pump.pdf"}

``id``, ``question`` and ``answer_type`` are required, and ``must_contain`` for every
answerable question (accuracy is defined by it). ``evidence`` (the manual's words that answer
the question) feeds the retrieval and context metrics. ``doc`` names the manual; with a
``page`` (the 1-based PDF page of the evidence, or a ``page_or_section`` that ends in
"(PDF p. N)", as ``../shared/real-manuals/qa.jsonl`` writes it) retrieval is scored by page:
a source counts when it is that page of that manual. Other fields are ignored, so a dataset
can carry its own notes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field, ValidationError, model_validator

from eval.retrieval import Gold
from maint.errors import MaintError

AnswerType = Literal[
    "spec", "part_number", "procedure", "safety", "interval", "explanation", "unanswerable"
]
ANSWER_TYPES: tuple[str, ...] = get_args(AnswerType)
_PDF_PAGE = re.compile(r"\(PDF p(?:age|\.)?\s*(\d+)\)", re.IGNORECASE)


class EvalItem(BaseModel, extra="ignore"):
    id: str
    question: str
    answer: str = ""
    answer_type: AnswerType
    must_contain: list[str] = []
    evidence: str = ""
    doc: str | None = None
    page: int | None = Field(default=None, ge=1)

    @property
    def answerable(self) -> bool:
        return self.answer_type != "unanswerable"

    @property
    def gold(self) -> Gold:
        return Gold(self.evidence, self.doc or None, self.page)

    @model_validator(mode="before")
    @classmethod
    def _page_from_section(cls, row: Any) -> Any:
        """``page_or_section`` "para 2-3c Replacement (PDF p. 19)" gives page 19."""
        if isinstance(row, dict) and row.get("page") is None:
            found = _PDF_PAGE.search(str(row.get("page_or_section") or ""))
            if found:
                row = {**row, "page": int(found.group(1))}
        return row

    @model_validator(mode="after")
    def _answerable_needs_items(self) -> EvalItem:
        if self.answerable and not [m for m in self.must_contain if m.strip()]:
            raise ValueError(
                "must_contain is empty: an answerable question needs the strings a correct "
                "answer contains (answer_type 'unanswerable' for questions the manuals do not "
                "answer)"
            )
        if not self.question.strip():
            raise ValueError("question is empty")
        return self


class DatasetError(MaintError, ValueError):
    """A dataset line is not valid; the message names the file, line and field."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        field = ".".join(map(str, e["loc"]))
        if e["type"] == "missing":
            parts.append(f"missing field '{field}'")
        elif e["type"] == "literal_error":
            parts.append(f"unknown {field} {e['input']!r} (use one of: {', '.join(ANSWER_TYPES)})")
        else:
            message = e["msg"].removeprefix("Value error, ")
            parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts)


def load(path: Path) -> list[EvalItem]:
    """Every question of ``path``; the first bad line stops the load with its number."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (a JSONL dataset, see data/eval/dev.jsonl)")
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object"
            ) from exc
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{n}: a JSON object is expected, not {type(row).__name__}")
        try:
            item = EvalItem.model_validate(row)
        except ValidationError as exc:
            raise DatasetError(f"{path}:{n}: {_describe(exc)}") from exc
        if item.id in seen:
            raise DatasetError(f"{path}:{n}: id {item.id!r} repeats line {seen[item.id]}")
        seen[item.id] = n
        items.append(item)
    if not items:
        raise DatasetError(f"{path}: no questions (one JSON object per line)")
    return items
