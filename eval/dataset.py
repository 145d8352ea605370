"""Evaluation questions: the ``data/eval/dev.jsonl`` format, validated line by line."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError


class EvalItem(BaseModel, extra="ignore"):
    id: str
    question: str
    answer: str = ""
    answer_type: str
    must_contain: list[str] = []
    evidence: str = ""
    doc: str | None = None

    @property
    def answerable(self) -> bool:
        return self.answer_type != "unanswerable"


class DatasetError(ValueError):
    """A dataset line is not valid; the message names the file, line and field."""


def load(path: Path) -> list[EvalItem]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(EvalItem.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not JSON ({exc.msg}); one object per line") from exc
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise DatasetError(f"{path}:{n}: invalid or missing field(s): {fields}") from exc
    return items
