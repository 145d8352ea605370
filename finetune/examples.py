"""What a training dataset is made of: its config, its examples (exactly the chat format of
inference), its report, and the list of what was left out and why."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Message = dict[str, str]
DEV_SET = Path(__file__).resolve().parent.parent / "data" / "eval" / "dev.jsonl"
FILES = ("closed_train", "closed_val", "raft_train", "raft_val")
KINDS = ("spec", "part", "procedure", "safety", "interval", "unanswerable", "extra")
REASONS = (
    "eval-verbatim",
    "eval-near-duplicate",
    "empty-answer",
    "too-long",
    "duplicate",
    "bad-jsonl",
)


@dataclass
class DatasetConfig:
    seed: int = 0
    val_fraction: float = 0.1  # share of FACTS held out (all examples of a held-out fact go to val)
    phrasings: int = 3  # questions per fact (spec, part, procedure, safety, interval)
    raft_distractors: int = 3
    raft_no_oracle: float = 0.2  # share of RAFT examples with distractors only -> refusal
    unanswerable_fraction: float = 0.1
    max_tokens: int = 1400  # longer examples (chat-templated, generator tokenizer) are skipped
    exclude: list[Path] = field(default_factory=list)  # eval files whose questions must not leak
    near_duplicate_similarity: float = 0.9  # embedding cosine counting as a near-duplicate
    # User JSONL files: {"question","answer"} or {"messages":[...]} per line; optional
    # "format": "closed" | "raft". Imported into train after the same checks.
    extra: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            **{k: v for k, v in vars(self).items() if k not in ("exclude", "extra")},
            "exclude": [str(p) for p in self.exclude],
            "extra": [str(p) for p in self.extra],
        }


@dataclass
class Example:
    id: str
    kind: str  # spec|part|procedure|safety|interval|unanswerable|extra
    format: str  # "closed" | "raft"
    messages: list[Message]  # system, user, assistant: exactly the inference format
    fact: str  # fact key used for the split ("" for extra)
    document_id: str | None
    split: str  # "train" | "val"
    tokens: int

    def line(self) -> str:
        row = {
            "id": self.id,
            "kind": self.kind,
            "format": self.format,
            "fact": self.fact,
            "document_id": self.document_id,
            "messages": self.messages,
        }
        return json.dumps(row, ensure_ascii=False)


@dataclass
class DatasetReport:
    out_dir: Path
    files: dict[str, Path]  # keys: "closed_train", "closed_val", "raft_train", "raft_val"
    counts: dict
    excluded: list[dict]
    data_hash: str  # sha256 over the written files (the trainer records it)
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "files": {k: str(v) for k, v in self.files.items()},
            "data_hash": self.data_hash,
            "counts": self.counts,
            "excluded": self.excluded,
            "config": self.config,
        }


class ChatTokenizer(Protocol):
    """The generator's Hugging Face tokenizer (it carries the chat template)."""

    def apply_chat_template(self, conversation: list[Message], **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...


@dataclass
class Exclusions:
    """What was not trained on, with the reason (a ``REASONS`` entry) and the details."""

    rows: list[dict] = field(default_factory=list)

    def drop(self, question: str, reason: str, detail: str, **extra: Any) -> None:
        self.rows.append({"question": question, "reason": reason, "detail": detail, **extra})
