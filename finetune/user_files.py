"""A user's own training examples (``maint finetune dataset --extra FILE``): JSON lines of
``{"question", "answer"}`` or ``{"messages": [...]}``, checked line by line; a broken line is
reported with its number, never trained on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from finetune.examples import Message
from serving.answering.prompt import SYSTEM, SYSTEM_CLOSED_BOOK, closed_book_messages


@dataclass
class UserExample:
    file: str
    line: int
    index: int
    format: str
    messages: list[Message]

    @property
    def question(self) -> str:
        user = self.messages[-2]["content"]
        return user.rsplit("Question: ", 1)[-1] if self.format == "raft" else user


def parse_user_file(path: Path, index: int) -> tuple[list[UserExample], list[dict]]:
    """A user's JSONL: kept lines, and what was wrong with the others (with line numbers)."""
    kept: list[UserExample] = []
    bad: list[dict] = []

    def reject(n: int, reason: str, detail: str, question: str = "") -> None:
        bad.append(
            {"question": question, "reason": reason, "detail": detail, "file": str(path), "line": n}
        )

    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            reject(n, "bad-jsonl", f"not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            reject(n, "bad-jsonl", "not a JSON object")
            continue
        fmt = row.get("format")
        if fmt not in (None, "closed", "raft"):
            reject(n, "bad-jsonl", f"format {fmt!r}: use 'closed' or 'raft'")
            continue
        if "messages" in row:
            msgs = row["messages"]
            ok = isinstance(msgs, list) and all(
                isinstance(m, dict)
                and m.get("role") in ("system", "user", "assistant")
                and isinstance(m.get("content"), str)
                for m in msgs
            )
            roles = [m["role"] for m in msgs] if ok else []
            if roles[:1] == ["system"]:
                roles = roles[1:]
            if not ok or roles != ["user", "assistant"]:
                reject(n, "bad-jsonl", "messages must be [system?, user, assistant] with text")
                continue
            msgs = [{"role": m["role"], "content": m["content"]} for m in msgs]
            user = msgs[-2]["content"]
            fmt = fmt or ("raft" if "<context>" in user else "closed")
            system = SYSTEM if fmt == "raft" else SYSTEM_CLOSED_BOOK
            if msgs[0]["role"] != "system":
                msgs.insert(0, {"role": "system", "content": system})
            elif msgs[0]["content"] != system:
                reject(
                    n,
                    "bad-jsonl",
                    f"system prompt differs from the {fmt} inference prompt; leave it out "
                    "and the builder adds the right one",
                    user,
                )
                continue
            if fmt == "raft" and "<context>" not in user:
                reject(n, "bad-jsonl", "a raft example needs the <context> of build_messages", user)
                continue
        elif "question" in row and "answer" in row:
            q, a = row["question"], row["answer"]
            if not isinstance(q, str) or not isinstance(a, str):
                reject(n, "bad-jsonl", "question and answer must be strings")
                continue
            if fmt == "raft":
                reject(n, "bad-jsonl", "a raft example needs 'messages' with its context", q)
                continue
            fmt = "closed"
            msgs = [*closed_book_messages(q.strip()), {"role": "assistant", "content": a}]
        else:
            reject(n, "bad-jsonl", "needs 'question' and 'answer', or 'messages'")
            continue
        if not msgs[-2]["content"].strip():
            reject(n, "bad-jsonl", "empty question")
            continue
        if not msgs[-1]["content"].strip():
            reject(n, "empty-answer", "the answer is empty", msgs[-2]["content"])
            continue
        kept.append(UserExample(str(path), n, index, fmt, msgs))
    return kept, bad
