"""Training data for the generator, built from the ingested corpus (graph facts and chunks).

Why it is built the way it is:

- Questions come from graph facts (specs, parts, procedures with their warnings, safety
  warnings, intervals), several technician phrasings each; answers carry the values and part
  numbers exactly as the manual writes them (both units where it gives both, and the
  condition), so the guard has nothing to strike out at inference time.
- Two chat formats, exactly what ``serving.answering.answer`` sends: closed book
  (``closed_book_messages`` + answer, for ``ft`` mode) and RAFT (``build_messages`` with the
  oracle chunk among distractor chunks, sometimes distractors only -> refusal, for ``hybrid``).
- No leakage: every question is compared with the eval questions by normalised text and
  embedding cosine and dropped when close; the validation split holds out whole facts.
- Bad data (empty answers, over-long examples, duplicates, broken lines in a user's file) is
  listed in ``excluded`` with its reason, never trained on silently.
- Deterministic: everything is sorted, and every random choice has its own
  ``random.Random`` seeded from the config seed and what is being decided.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from graph import cypher
from graph.base import GraphStore
from ingestion.chunker import heading_title
from maint.embed import Embedder
from maint.identifiers import contains_compacted, norm_part_number
from retrieval.base import Hit
from retrieval.graph_facts import GraphLookup, GraphRetriever
from retrieval.store import ChunkStore
from serving.answering.prompt import (
    REFUSAL,
    SYSTEM,
    SYSTEM_CLOSED_BOOK,
    build_messages,
    closed_book_messages,
    source_label,
)

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
_JACCARD = 0.8  # word overlap at/above which a question counts as a near-duplicate too


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


# -- text helpers ----------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Lower case, punctuation and whitespace collapsed: how eval questions are compared."""
    return " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())


def _rng(seed: int, *what: str) -> random.Random:
    """One generator per decision, so adding a fact never reshuffles the others."""
    return random.Random("|".join([str(seed), *what]))


def _digest(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:12]


def _lower_first(text: str) -> str:
    """'Impeller nut' -> 'impeller nut'; 'NPSH required', 'O-ring' stay as written."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1].isalpha() and word[1:] == word[1:].lower():
        return text[0].lower() + text[1:]
    return text


def _words(text: str) -> list[str]:
    stop = {"the", "and", "for", "with", "per", "max", "maximum", "minimum", "new", "from"}
    return [w for w in re.findall(r"[a-z][a-z-]{2,}", text.lower()) if w not in stop]


def _contains_number(text: str, value: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d]|[.,]\d)", text) is not None


# -- facts -----------------------------------------------------------------------------------
@dataclass
class _Fact:
    """One fact and the questions about it; ``segments`` are (answer text, source chunk)."""

    key: str  # split key: all examples of one key go to the same split
    kind: str
    equipment: str
    questions: list[str]
    segments: list[tuple[str, str]]
    bearing: set[str] = field(default_factory=set)  # chunks holding the answer: no distractors
    joiner: str = " "
    topic: str = ""  # what it is about ('impeller nut'), for questions about other machines
    asks: str = ""  # which question templates fit the topic: "spec", "tighten" or "part"

    @property
    def oracles(self) -> list[str]:
        return list(dict.fromkeys(c for _, c in self.segments if c))

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


_TIGHTEN = (
    "torque for the {s} on the {eq}?",
    "How tight should the {s} be on the {eq}?",
    "What's the torque spec for the {eq} {s}?",
    "What do I torque the {s} to on a {eq}?",
    "{eq} {s} torque?",
    "Tightening torque of the {s} on the {eq}?",
    "{eq}: what torque on the {s}?",
)
_SPEC = (
    "What's the spec for the {s} on the {eq}?",
    "{eq} {s}?",
    "What is the {s} of the {eq}?",
    "What does the manual give for the {s} on the {eq}?",
    "Quick one: {s} for the {eq}?",
    "Need the {s} for our {eq}.",
    "What's the {eq} {s}?",
)
_PART = (
    "Part number for the {n} on the {eq}?",
    "What's the P/N of the {eq} {n}?",
    "I need a new {n} for the {eq}. Which part do I order?",
    "{eq} {n} part no.?",
    "Which part number is the {n} of the {eq}?",
    "What do I order to replace the {n} on a {eq}?",
)
_PART_NSN = ("NSN of the {eq} {n}?", "What's the stock number for the {n} on the {eq}?")
_PART_REVERSE = ("What is part {pn} on the {eq}?", "{pn}: what is that part on the {eq}?")
_PROCEDURE = (
    "What's the procedure for {t} on the {eq}?",
    "Walk me through {t} on the {eq}.",
    "{eq}: steps for {t}?",
    "What does the {eq} manual say about {t}? Step by step please.",
)
_PROCEDURE_VERB = ("How do I {v} on the {eq}?", "What are the steps to {v} on a {eq}?")
_SAFETY_TOPIC = (
    "Any safety warnings for {t} on the {eq}?",
    "What should I watch out for with {t} on the {eq}?",
    "{eq} {t}: what are the hazards?",
    "Is there anything safety-critical about {t} on the {eq}?",
)
_SAFETY_GENERAL = (
    "What are the general safety warnings for the {eq}?",
    "Main safety rules before working on the {eq}?",
    "{eq}: general safety precautions?",
)
_INTERVAL_VERB = (
    "How often do I {k} on the {eq}?",
    "When do I {k} on the {eq}?",
    "{eq}: how often to {k}?",
    "What's the interval to {k} on the {eq}?",
)
_INTERVAL = (
    "When is the {k} due on the {eq}?",
    "{eq} interval for {k}?",
    "What's the service interval for {k} on the {eq}?",
)
_TASK_VERBS = {
    "adjust",
    "change",
    "check",
    "clean",
    "drain",
    "flush",
    "grease",
    "inspect",
    "lubricate",
    "measure",
    "regrease",
    "replace",
    "retighten",
    "run",
    "service",
    "test",
    "tighten",
    "top",
}
_FASTENER = re.compile(
    r"\b(bolts?|nuts?|locknuts?|screws?|plugs?|studs?|fittings?|valves?|clamps?|terminals?|"
    r"caps?)\b",
    re.I,
)
_STEP_NOISE = {"it", "them", "and", "if", "must", "than", "to", "until", "not", "is", "be"}


def _pick(templates: Sequence[str], count: int, rng: random.Random, **values: str) -> list[str]:
    chosen = rng.sample(list(templates), min(max(count, 1), len(templates)))
    return [t.format(**values) for t in chosen]


def _verb_phrase(title: str) -> str | None:
    """'Draining and refilling the system' -> 'drain and refill the system' (None: no gerund)."""
    words = title.split()

    def verb(word: str) -> str | None:
        if not word.lower().endswith("ing") or len(word) < 6:
            return None
        stem = word[:-3].lower()
        if re.search(r"([bdgmnprt])\1$", stem):
            return stem[:-1]  # stopping -> stop
        if re.search(r"(at|ur|ng|[cvz])$", stem):
            return stem + "e"  # replacing -> replace, lubricating -> lubricate
        return stem

    first = verb(words[0]) if words else None
    if first is None:
        return None
    words[0] = first
    if len(words) > 2 and words[1] == "and" and (second := verb(words[2])):
        words[2] = second
    return " ".join(words)


def _spec_subject(parameter: str, table: bool, section: str) -> str | None:
    """The thing a spec is about, in the words a question uses; None when the extractor's
    parameter is a sentence fragment no technician would ask with."""
    p = " ".join(parameter.split())
    if table:
        if not re.search(r"[a-z]{3}", p):  # 'M1': only the table's heading says what it is
            topic = heading_title(section.rsplit(" > ", 1)[-1]) if section else ""
            return f"{_lower_first(topic)} {p}" if topic else None
        if "," in p and "(" not in p:  # 'Weight, bare-shaft pump' -> 'weight (bare-shaft pump)'
            head, _, rest = p.partition(",")
            p = f"{head} ({rest.strip()})"
        return _lower_first(p)
    torque = re.fullmatch(r"(?:the\s+)?(.+?)\s+torque", p, re.I)
    if torque:
        words = [w for w in torque.group(1).split() if w not in ("crosswise", "evenly")]
        if 1 <= len(words) <= 5 and not _STEP_NOISE.intersection(words):
            return " ".join(words)
        return None
    the = re.fullmatch(r"The\s+(.+)", p)
    if the:
        words = the.group(1).split()
        noise = _STEP_NOISE | {"between", "exceed", "reaches", "may", "of", "a"}
        if 2 <= len(words) <= 6 and not noise.intersection(w.lower() for w in words):
            return the.group(1)
    return None


def _prose_cell(row_text: str, value: str) -> bool:
    """True when the table cell holding ``value`` is a sentence, not a quantity."""
    cells = row_text.split(" | ")[1:]
    cell = next((c for c in cells if _contains_number(c, value)), "")
    return len(re.findall(r"[A-Za-z]{3,}", cell)) >= 4


def _quantity(value: str, unit: str | None) -> str:
    return value if unit in (None, "", "—", "-") else f"{value} {unit}"


def _values(rows: list[dict]) -> str:
    """'95 N·m (70 lbf·ft)': values in the order the source line gives them, a conversion in
    brackets after the value it restates, different quantities joined with ' / '."""
    text = rows[0].get("text") or ""

    def position(r: dict) -> int:
        m = re.search(rf"(?<![\d.]){re.escape(str(r['value']))}(?![\d])", text)
        return m.start() if m else len(text)

    unique = {(str(r["value"]), r["unit"]): r for r in rows}.values()
    ordered = sorted(
        unique, key=lambda r: (position(r), r["unit"] != r["unit_si"], r["unit"] or "", r["value"])
    )
    by_measure: dict[str, list[str]] = {}
    for r in ordered:
        by_measure.setdefault(r["unit_si"] or r["unit"] or "", []).append(
            _quantity(str(r["value"]), r["unit"])
        )
    parts = [q[0] + (f" ({' / '.join(q[1:])})" if len(q) > 1 else "") for q in by_measure.values()]
    return " / ".join(parts)


def _table_row(text: str, part_number: str) -> dict[str, str | None] | None:
    """The parts-list row of ``part_number`` in a chunk: description, NSN, qty as written."""
    lines = text.splitlines()
    header_at = next(
        (
            i
            for i, line in enumerate(lines)
            if " | " in line and re.search(r"part\s*(no|number|#)|p/n", line, re.I)
        ),
        None,
    )
    if header_at is None:
        return None
    header = [h.strip().lower() for h in lines[header_at].split("|")]

    def col(pattern: str) -> int | None:
        return next((i for i, h in enumerate(header) if re.search(pattern, h)), None)

    want = norm_part_number(part_number)
    for line in lines[header_at + 1 :]:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 2 or not any(norm_part_number(c) == want for c in cells):
            continue

        def cell(i: int | None, cells: list[str] = cells) -> str | None:
            value = cells[i] if i is not None and i < len(cells) else ""
            return None if value in ("", "—", "-", "–", "n/a") else value

        return {
            "description": cell(col(r"description|nomenclature|name")),
            "nsn": cell(col(r"stock|nsn")),
            "qty": cell(col(r"qty|quantity")),
        }
    return None


def _part_name(description: str) -> str:
    """'Element, air filter, primary' -> 'air filter element (primary)'."""
    segs = [s.strip() for s in re.sub(r"\(.*?\)", "", description).split(",") if s.strip()]
    if not segs:
        return _lower_first(description.strip())
    head, rest = _lower_first(segs[0]), segs[1:]
    if rest and not re.search(r"\d", rest[0]) and len(rest[0].split()) <= 2:
        head, rest = f"{_lower_first(rest[0])} {head}", rest[1:]
    rest = [r for r in rest if len(r.split()) <= 3]
    return head + (f" ({', '.join(rest)})" if rest else "")


# -- the builder -----------------------------------------------------------------------------
@dataclass
class _Eval:
    question: str
    file: str
    id: str


def _load_eval(paths: Sequence[Path]) -> list[_Eval]:
    """Questions of the eval files; a broken line is an error, never a silent hole."""
    found: list[_Eval] = []
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
            found.append(_Eval(question, str(path), str(row.get("id", n))))
    return found


@dataclass
class _Extra:
    file: str
    line: int
    index: int
    format: str
    messages: list[Message]

    @property
    def question(self) -> str:
        user = self.messages[-2]["content"]
        return user.rsplit("Question: ", 1)[-1] if self.format == "raft" else user


def _parse_extra(path: Path, index: int) -> tuple[list[_Extra], list[dict]]:
    """A user's JSONL: kept lines, and what was wrong with the others (with line numbers)."""
    kept: list[_Extra] = []
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
        kept.append(_Extra(str(path), n, index, fmt, msgs))
    return kept, bad


class _Builder:
    def __init__(
        self,
        pg: ChunkStore,
        graph: GraphStore,
        embedder: Embedder,
        tokenizer: ChatTokenizer,
        config: DatasetConfig,
    ):
        self.pg, self.graph, self.embedder, self.tok, self.cfg = (
            pg,
            graph,
            embedder,
            tokenizer,
            config,
        )
        self.excluded: list[dict] = []
        ids = [c["id"] for d in pg.list_documents() for c in pg.chunks(d.id)]
        self.hits = {r["chunk_id"]: Hit.from_row(r, "vector") for r in pg.chunks_by_ids(ids)}
        self.chunk_ids = sorted(self.hits)
        self.eq_docs: dict[str, set[str]] = defaultdict(set)
        for r in graph.run(cypher.FT_EQUIPMENT_DOCUMENTS):
            self.eq_docs[r["name"]].update(r["documents"])
        self.eq_texts = {
            eq: [h.text.lower() for h in self.hits.values() if h.document_id in docs]
            for eq, docs in self.eq_docs.items()
        }
        self._chunk_tokens: dict[str, int] = {}
        self._near: dict[str, list[str]] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.leaks: dict[str, dict] = {}
        self.linker = GraphRetriever(graph, pg)
        self._lookups: dict[str, GraphLookup] = {}
        # Tokens of a RAFT example beyond its question, answer and excerpts: prompt, template.
        empty, _ = build_messages("", [], [])
        self._overhead = self.count([*empty, {"role": "assistant", "content": ""}])

    def drop(self, question: str, reason: str, detail: str, **extra: Any) -> None:
        self.excluded.append({"question": question, "reason": reason, "detail": detail, **extra})

    # -- facts from the graph ------------------------------------------------------------
    def spec_facts(self) -> list[_Fact]:
        groups: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
        for r in self.graph.run(cypher.FT_SPECS):
            if r["chunk"] in self.hits:
                key = (r["equipment"], r["parameter"], r["condition"] or "", r["chunk"])
                groups[key].append(r)
        found: list[tuple[bool, str, str, str, str, list[dict]]] = []
        for (eq, parameter, condition, chunk), rows in sorted(groups.items()):
            rows.sort(key=lambda r: (str(r["value"]), r["unit"] or ""))
            table = " | " in (rows[0]["text"] or "")
            if table and _prose_cell(rows[0]["text"], str(rows[0]["value"])):
                continue  # a number inside advice ('run at 75 % load until ...'): no spec
            subject = _spec_subject(parameter, table, self.hits[chunk].section)
            if subject:
                found.append((table, eq, subject, condition, chunk, rows))

        def signature(rows: list[dict]) -> str:
            return "|".join(sorted({_quantity(str(r["value"]), r["unit"]) for r in rows}))

        in_tables = {(eq, signature(rows)) for table, eq, *_, rows in found if table}
        bearing: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _, eq, _, _, chunk, rows in found:
            bearing[(eq, signature(rows))].add(chunk)
        facts: dict[tuple[str, str, str], _Fact] = {}
        # Table rows first: a step that restates a table value adds nothing but ambiguity.
        for table, eq, subject, condition, chunk, rows in sorted(
            found, key=lambda f: (not f[0], f[1], f[2], f[3], f[4])
        ):
            sig = signature(rows)
            same = (eq, normalise(subject), sig)
            if (not table and (eq, sig) in in_tables) or same in facts:
                continue  # the same fact stated twice: one is enough
            unit_si = next((r["unit_si"] for r in rows if r["unit_si"]), "")
            leaf = self.hits[chunk].section.rsplit(" > ", 1)[-1].lower()
            tighten = unit_si == "N·m" and bool(_FASTENER.search(subject) or "torque" in leaf)
            cond = f", {_lower_first(condition)}" if condition else ""
            if tighten:
                answer = f"Tighten the {subject} on the {eq} to {_values(rows)}{cond}."
            else:
                answer = f"The {subject} of the {eq} is {_values(rows)}{cond}."
            key = f"spec:{eq}:{sig}"
            rng = _rng(self.cfg.seed, "phrasing", key, subject)
            templates = _TIGHTEN if tighten else _SPEC
            questions = _pick(templates, self.cfg.phrasings, rng, s=subject, eq=eq)
            words = _words(subject)
            near = {
                c
                for c, h in self.hits.items()
                if any(_contains_number(h.text, str(r["value"])) for r in rows)
                and any(w in h.text.lower() for w in words)
            }
            facts[same] = _Fact(
                key,
                "spec",
                eq,
                questions,
                [(answer, chunk)],
                bearing[(eq, sig)] | near,
                topic=re.sub(r"\s*\(.*?\)", "", subject).strip(),
                asks="tighten" if tighten else "spec",
            )
        return list(facts.values())

    def part_facts(self) -> list[_Fact]:
        facts = []
        rows = self.graph.run(cypher.EQUIPMENT_PARTS, {"eq": []})
        for r in sorted(rows, key=lambda r: (r["equipment"], r["part_number"])):
            eq, pn = r["equipment"], r["part_number"]
            docs = self.eq_docs.get(eq, set())
            mine = sorted(
                c
                for c in r["chunks"]
                if c in self.hits
                and self.hits[c].document_id in docs
                and contains_compacted(self.hits[c].text, pn)
            )
            if not mine:
                continue
            # The parts-list row of this machine's manual: its description, NSN, qty as written.
            listed = [(c, row) for c in mine if (row := _table_row(self.hits[c].text, pn))]
            chunk, row = listed[0] if listed else (mine[0], None)
            row = row or {"description": r["description"], "nsn": r["nsn"], "qty": r["qty"]}
            description = row["description"] or ""
            name = _part_name(description) if description else ""
            details = [description] if description else []
            details += [f"NSN {row['nsn']}"] if row["nsn"] else []
            details += [f"qty {row['qty']}"] if row["qty"] else []
            thing = f"The {name} for the {eq}" if name else f"The part for the {eq}"
            answer = f"{thing} is P/N {pn}" + (f": {'; '.join(details)}." if details else ".")
            key = f"part:{norm_part_number(pn)}"
            rng = _rng(self.cfg.seed, "phrasing", key, eq)
            templates = [*_PART, *_PART_REVERSE, *(_PART_NSN if row["nsn"] else ())]
            plain = re.sub(r"\s*\(.*?\)", "", name).strip()
            questions = _pick(
                templates if name else _PART_REVERSE, self.cfg.phrasings, rng, n=name, eq=eq, pn=pn
            )
            bearing = {c for c, h in self.hits.items() if contains_compacted(h.text, pn)}
            fact = _Fact(key, "part", eq, questions, [(answer, chunk)], bearing)
            fact.topic, fact.asks = plain, "part"
            facts.append(fact)
        return facts

    def _warning_segments(self, texts: dict[str, str], lead: str) -> list[tuple[str, str]]:
        """Warnings in manual order, one line each, the first under ``lead``."""
        ordered = sorted(texts.items(), key=lambda w: (w[1], self.hits[w[1]].text.find(w[0][:40])))
        return [((lead if i == 0 else "") + f"- {t}", c) for i, (t, c) in enumerate(ordered)]

    def _section_chunks(self, chunk: str) -> set[str]:
        hit = self.hits[chunk]
        return {
            c
            for c, h in self.hits.items()
            if h.document_id == hit.document_id and h.section == hit.section
        }

    def procedure_facts(self) -> list[_Fact]:
        """Ordered steps plus the warnings attached to the procedure; its warnings alone also
        make a safety fact, under the same split key (one answer must not straddle splits)."""
        steps: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for r in self.graph.run(cypher.FT_PROCEDURE_STEPS):
            steps[r["procedure"]].append((int(r["number"]), r["text"]))
        warnings: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self.graph.run(cypher.FT_PROCEDURE_WARNINGS):
            if r["chunk"] in self.hits:
                texts = warnings[r["procedure"]]
                texts[r["text"]] = min(texts.get(r["text"], r["chunk"]), r["chunk"])
        procs: dict[str, dict] = {}
        for r in self.graph.run(cypher.FT_PROCEDURES):
            if r["chunk"] in self.hits and r["chunk"] < procs.get(r["key"], {}).get("chunk", "~"):
                procs[r["key"]] = r
        facts = []
        for key, r in sorted(procs.items()):
            eq, title, chunk = r["equipment"], r["title"], r["chunk"]
            t, verb = _lower_first(title), _verb_phrase(title)
            fact_key = f"procedure:{key}"
            templates = [*_PROCEDURE, *(_PROCEDURE_VERB if verb else ())]
            rng = _rng(self.cfg.seed, "phrasing", fact_key)
            questions = _pick(templates, self.cfg.phrasings, rng, t=t, v=verb or "", eq=eq)
            ordered = sorted(steps.get(key, []))
            if not ordered:
                detail = f"procedure {title!r} ({eq}) has no steps in the graph"
                self.drop(questions[0], "empty-answer", detail, fact=fact_key)
                continue
            block = f"{title} ({eq}):\n" + "\n".join(f"{n}. {text}" for n, text in ordered)
            texts = warnings.get(key, {})
            bearing = self._section_chunks(chunk) | set(texts.values())
            segments = [(block, chunk), *self._warning_segments(texts, "Safety warnings:\n")]
            facts.append(_Fact(fact_key, "procedure", eq, questions, segments, bearing, "\n"))
            if texts:
                rng = _rng(self.cfg.seed, "phrasing", fact_key, "safety")
                questions = _pick(_SAFETY_TOPIC, self.cfg.phrasings, rng, t=t, eq=eq)
                segments = self._warning_segments(texts, f"For {t} on the {eq}:\n")
                facts.append(_Fact(fact_key, "safety", eq, questions, segments, bearing, "\n"))
        return facts

    def safety_facts(self) -> list[_Fact]:
        """Warnings that belong to a machine, not a procedure, grouped by manual section."""
        groups: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
        for r in self.graph.run(cypher.EQUIPMENT_WARNINGS, {"eq": []}):
            hit = self.hits.get(r["chunk"])
            if hit is not None:
                texts = groups[(r["equipment"], hit.document_id, hit.section)]
                texts[r["text"]] = min(texts.get(r["text"], r["chunk"]), r["chunk"])
        facts = []
        for (eq, doc, section), texts in sorted(groups.items()):
            topic = _lower_first(heading_title(section.rsplit(" > ", 1)[-1])) if section else ""
            general = not topic or "safety" in topic.lower()
            key = f"safety:{doc}:{section}"
            rng = _rng(self.cfg.seed, "phrasing", key)
            templates = _SAFETY_GENERAL if general else _SAFETY_TOPIC
            questions = _pick(templates, self.cfg.phrasings, rng, t=topic, eq=eq)
            lead = f"Safety on the {eq}" + ("" if general else f" ({topic})") + ":\n"
            segments = self._warning_segments(texts, lead)
            bearing = self._section_chunks(min(texts.values())) | set(texts.values())
            facts.append(_Fact(key, "safety", eq, questions, segments, bearing, "\n"))
        return facts

    def interval_facts(self) -> list[_Fact]:
        chunks: dict[tuple[str, str, str], str] = {}
        for r in self.graph.run(cypher.EQUIPMENT_INTERVALS, {"eq": []}):
            if r["chunk"] in self.hits:
                k = (r["equipment"], r["task"], r["interval"])
                chunks[k] = min(chunks.get(k, r["chunk"]), r["chunk"])
        facts = []
        for (eq, task, interval), chunk in sorted(chunks.items()):
            k = _lower_first(task)
            key = f"interval:{eq}:{normalise(task)}"
            templates = _INTERVAL_VERB if k.split(" ", 1)[0] in _TASK_VERBS else _INTERVAL
            rng = _rng(self.cfg.seed, "phrasing", key, interval)
            questions = _pick(templates, self.cfg.phrasings, rng, k=k, eq=eq)
            answer = f"{task} ({eq}): {interval}."
            bearing = {chunk} | {c for c, h in self.hits.items() if task.lower() in h.text.lower()}
            facts.append(_Fact(key, "interval", eq, questions, [(answer, chunk)], bearing))
        return facts

    def unanswerable_pool(self, facts: list[_Fact]) -> list[_Fact]:
        """Plausible questions the corpus cannot answer: another machine's parameter or part
        asked of a machine whose manuals never mention it, or a model that does not exist."""
        owners: dict[tuple[str, str], set[str]] = defaultdict(set)  # (asks, topic) -> machines
        for f in facts:
            if f.topic and f.asks:
                owners[(f.asks, f.topic)].add(f.equipment)
        pool: dict[str, _Fact] = {}

        templates = {"spec": _SPEC, "tighten": _TIGHTEN, "part": _PART}

        def add(eq: str, asks: str, topic: str) -> None:
            key = f"unanswerable:{eq}:{normalise(topic)}"
            template = _rng(self.cfg.seed, "phrasing", key).choice(templates[asks])
            question = template.format(eq=eq, s=topic, n=topic)
            pool.setdefault(key, _Fact(key, "unanswerable", eq, [question], [(REFUSAL, "")]))

        def absent(topic: str, texts: list[str]) -> bool:
            words = _words(topic)
            return any(len(w) >= 4 for w in words) and not any(
                all(w in t for w in words) for t in texts
            )

        for eq, texts in sorted(self.eq_texts.items()):
            for (asks, topic), have in sorted(owners.items()):
                if eq not in have and absent(topic, texts):
                    add(eq, asks, topic)
        every_text = [h.text.lower() for h in self.hits.values()]
        for eq in sorted(self.eq_texts):  # a model the corpus does not cover at all
            m = re.fullmatch(r"([A-Z]+-)(\d+)", eq)
            if not m:
                continue
            rng = _rng(self.cfg.seed, "fake-model", eq)
            fake = f"{m.group(1)}{int(m.group(2)) + rng.choice((25, 50, 100, 150))}"
            if fake in self.eq_texts or any(fake.lower() in t for t in every_text):
                continue
            mine = sorted((asks, topic) for (asks, topic), have in owners.items() if eq in have)
            for asks, topic in rng.sample(mine, min(3, len(mine))):
                add(fake, asks, topic)
        return [pool[k] for k in sorted(pool)]

    # -- leakage and duplicates -----------------------------------------------------------
    def set_evals(self, evals: list[_Eval]) -> None:
        self.evals = evals
        self.eval_vectors = self.embedder.embed([e.question for e in evals])
        self.eval_text: dict[str, _Eval] = {}
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

    def screen(self, fact: _Fact, seen: dict[str, str]) -> _Fact | None:
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

    # -- examples -------------------------------------------------------------------------
    def count(self, messages: list[Message]) -> int:
        encoded = self.tok.apply_chat_template(messages, tokenize=True, return_dict=True)
        return len(encoded["input_ids"])

    def chunk_tokens(self, chunk: str) -> int:
        if chunk not in self._chunk_tokens:
            hit = self.hits[chunk]
            text = f"{source_label(9, hit)}\n{hit.text}\n\n"
            self._chunk_tokens[chunk] = len(self.tok.encode(text, add_special_tokens=False))
        return self._chunk_tokens[chunk]

    def nearest(self, fact: _Fact) -> list[str]:
        """Chunks most similar to the fact's first question (one search per fact; exact, so
        the same order every run)."""
        if fact.key not in self._near:
            vector = self.vectors[fact.questions[0]]
            rows = self.pg.vector_search(vector, k=40, exact=True)
            self._near[fact.key] = [r["chunk_id"] for r in rows if r["chunk_id"] in self.hits]
        return self._near[fact.key]

    def distractors(self, fact: _Fact, question: str, budget: int) -> list[str]:
        """Hard distractors (similar chunks that do not hold the answer), random ones only
        when those do not fit the token budget."""
        want = self.cfg.raft_distractors
        if want <= 0:
            return []
        exclude = fact.bearing | set(fact.oracles)
        rng = _rng(self.cfg.seed, "distractors", fact.key, question)
        near = [c for c in self.nearest(fact) if c not in exclude][: 3 * want]
        rng.shuffle(near)
        rest = [c for c in self.chunk_ids if c not in exclude and c not in near]
        rng.shuffle(rest)
        chosen: list[str] = []
        used = 0
        for chunk in near + rest:
            cost = self.chunk_tokens(chunk)
            if used + cost <= budget:
                chosen.append(chunk)
                used += cost
                if len(chosen) == want:
                    break
        return chosen

    def closed_answer(self, fact: _Fact) -> str:
        if not fact.answerable:
            return REFUSAL
        hit = self.hits[fact.oracles[0]]
        text = fact.joiner.join(t for t, _ in fact.segments)
        return f"{text}\nSource: {hit.document}, p. {hit.pages}."

    def raft_base(self, fact: _Fact, question: str, with_oracle: bool) -> int:
        """Tokens of a RAFT example before distractors, estimated without rendering it
        (neutralising chunk text is slow); the exact count has the last word."""
        oracles = fact.oracles if with_oracle and fact.answerable else []
        answer = fact.joiner.join(_cite(t, 1) for t, _ in fact.segments) if oracles else REFUSAL
        base = self._overhead + sum(self.chunk_tokens(c) for c in oracles)
        return base + len(self.tok.encode(f"{question}\n{answer}", add_special_tokens=False))

    def raft(self, fact: _Fact, question: str, with_oracle: bool) -> tuple[list[Message], int]:
        """``build_messages`` over the oracle chunks placed among distractors (or distractors
        only), answered with citations to the oracles, or with the refusal."""
        oracles = fact.oracles if with_oracle and fact.answerable else []

        def render(distractors: list[str]) -> list[Message]:
            rng = _rng(self.cfg.seed, "raft-order", fact.key, question)
            order = list(distractors)
            for chunk in oracles:
                order.insert(rng.randint(0, len(order)), chunk)
            numbers = {c: n for n, c in enumerate(order, start=1)}
            if oracles:
                answer = fact.joiner.join(_cite(t, numbers[c]) for t, c in fact.segments)
            else:
                answer = REFUSAL
            facts = self.lookup(question).context_facts(order)
            messages, _ = build_messages(question, [self.hits[c] for c in order], facts)
            return [*messages, {"role": "assistant", "content": answer}]

        budget = self.cfg.max_tokens - self.raft_base(fact, question, bool(oracles)) - 8
        distractors = self.distractors(fact, question, budget)
        while True:
            messages = render(distractors)
            tokens = self.count(messages)
            if tokens <= self.cfg.max_tokens or not distractors:
                return messages, tokens
            distractors = distractors[:-1]

    def lookup(self, question: str) -> GraphLookup:
        """What the graph retriever links for this question, as a hybrid answer would."""
        if question not in self._lookups:
            self._lookups[question] = self.linker.lookup(question)
        return self._lookups[question]

    def examples(self, facts: list[_Fact], val: set[str]) -> list[Example]:
        pairs = [(f, q) for f in facts for q in f.questions]
        # Distractors-only examples are drawn among questions whose oracle fits max_tokens:
        # where no answer with context fits, a refusal alone would teach the wrong thing.
        fits = sorted(
            (f.key, q)
            for f, q in pairs
            if f.answerable and self.raft_base(f, q, True) <= self.cfg.max_tokens
        )
        n = round(len(fits) * self.cfg.raft_no_oracle)
        no_oracle = set(_rng(self.cfg.seed, "no-oracle").sample(fits, n))
        out: list[Example] = []
        for fact, q in pairs:
            split = "val" if fact.key in val else "train"
            doc = self.hits[fact.oracles[0]].document_id if fact.oracles else None
            answer = self.closed_answer(fact)
            closed = [*closed_book_messages(q), {"role": "assistant", "content": answer}]
            raft, raft_tokens = self.raft(fact, q, (fact.key, q) not in no_oracle)
            for fmt, messages, tokens in (
                ("closed", closed, self.count(closed)),
                ("raft", raft, raft_tokens),
            ):
                ex_id = f"{fmt}-{fact.kind}-{_digest(fact.key, q)}"
                ex = Example(ex_id, fact.kind, fmt, messages, fact.key, doc, split, tokens)
                self.keep(out, ex, q)
        return out

    def keep(self, out: list[Example], ex: Example, question: str, **where: Any) -> None:
        if not ex.messages[-1]["content"].strip():
            self.drop(question, "empty-answer", "the answer is empty", id=ex.id, **where)
        elif ex.tokens > self.cfg.max_tokens:
            detail = f"{ex.tokens} tokens > max_tokens {self.cfg.max_tokens} ({ex.format})"
            self.drop(question, "too-long", detail, id=ex.id, kind=ex.kind, **where)
        else:
            out.append(ex)

    def extra_examples(self, extras: list[_Extra], examples: list[Example]) -> list[Example]:
        """The user's own examples: always train (they are no graph fact to hold out)."""
        seen = {
            (
                e.format,
                normalise(e.messages[-2]["content"]),
                normalise(e.messages[-1]["content"]),
            ): e.id
            for e in examples
        }
        out: list[Example] = []
        for x in extras:
            where = {"file": x.file, "line": x.line}
            q = x.question
            pair = (
                x.format,
                normalise(x.messages[-2]["content"]),
                normalise(x.messages[-1]["content"]),
            )
            if q in self.leaks:
                self.drop(q, kind="extra", **self.leaks[q], **where)
            elif pair in seen:
                self.drop(q, "duplicate", f"same question and answer as {seen[pair]}", **where)
            else:
                ex_id = f"extra-{x.index}-{x.line:05d}"
                seen[pair] = f"{Path(x.file).name}:{x.line}"
                ex = Example(
                    ex_id, "extra", x.format, x.messages, "", None, "train", self.count(x.messages)
                )
                self.keep(out, ex, q, **where)
        return out


def _cite(text: str, n: int) -> str:
    """'... lubricated threads.' -> '... lubricated threads [2].'"""
    body = text.rstrip()
    return f"{body[:-1]} [{n}]." if body.endswith(".") else f"{body} [{n}]"


def _val_facts(keys: set[str], fraction: float, seed: int) -> set[str]:
    """Held-out facts, drawn per fact kind so every kind has some in val."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for key in sorted(keys):
        by_kind[key.split(":", 1)[0]].append(key)
    val: set[str] = set()
    for kind, group in sorted(by_kind.items()):
        _rng(seed, "split", kind).shuffle(group)
        n = round(len(group) * fraction)
        if fraction > 0 and len(group) >= 2:
            n = min(max(n, 1), len(group) - 1)
        val.update(group[:n])
    return val


def _eval_paths(exclude: Sequence[Path]) -> list[Path]:
    """The eval files to guard against; the dev set always, whoever calls."""
    paths: dict[Path, Path] = {}
    for p in [*exclude, DEV_SET]:
        if p == DEV_SET and not p.is_file():
            continue
        paths.setdefault(Path(p).resolve(), Path(p))
    return list(paths.values())


def _counts(examples: list[Example], excluded: list[dict], titles: dict[str, str]) -> dict:
    by_kind: dict[str, dict[str, dict[str, int]]] = {}
    for kind in KINDS:
        by_kind[kind] = {f: {"train": 0, "val": 0} for f in ("closed", "raft")}
    docs: Counter[str] = Counter()
    facts: dict[str, set[str]] = {"train": set(), "val": set()}
    for e in examples:
        by_kind[e.kind][e.format][e.split] += 1
        docs[e.document_id or "none"] += 1
        if e.fact:
            facts[e.split].add(e.fact)
    files = {name: 0 for name in FILES}
    for e in examples:
        files[f"{e.format}_{e.split}"] += 1
    tokens = [e.tokens for e in examples]
    return {
        "examples": len(examples),
        "files": files,
        "by_kind": by_kind,
        "by_document": {
            d: {"title": titles.get(d, ""), "examples": n} for d, n in sorted(docs.items())
        },
        "facts": {split: len(keys) for split, keys in facts.items()},
        "raft_no_oracle": sum(
            1
            for e in examples
            if e.format == "raft"
            and e.kind != "unanswerable"
            and e.messages[-1]["content"] == REFUSAL
        ),
        "tokens": {"sum": sum(tokens), "max": max(tokens, default=0)},
        "excluded": dict(sorted(Counter(x["reason"] for x in excluded).items())),
    }


def build_dataset(
    pg: ChunkStore,
    graph: GraphStore,
    embedder: Embedder,
    tokenizer: ChatTokenizer,
    config: DatasetConfig,
    out_dir: Path,
) -> DatasetReport:
    """Write closed_{train,val}.jsonl, raft_{train,val}.jsonl and report.json into out_dir."""
    b = _Builder(pg, graph, embedder, tokenizer, config)
    eval_paths = _eval_paths(config.exclude)
    evals = _load_eval(eval_paths)
    facts = b.spec_facts() + b.part_facts() + b.procedure_facts()
    facts += b.safety_facts() + b.interval_facts()
    pool = b.unanswerable_pool(facts)
    extras: list[_Extra] = []
    for index, path in enumerate(config.extra):
        kept, bad = _parse_extra(Path(path), index)
        extras += kept
        b.excluded += bad
    b.set_evals(evals)
    b.check([q for f in facts for q in f.questions] + [x.question for x in extras])
    seen: dict[str, str] = {}
    facts = [f for f in (b.screen(f, seen) for f in facts) if f is not None]
    # Unanswerable questions: as many as make up unanswerable_fraction of the questions,
    # embedded (for the leakage check) only as far as they are needed.
    frac = config.unanswerable_fraction
    asked = sum(len(f.questions) for f in facts)
    quota = round(asked * frac / (1 - frac)) if frac < 1 else len(pool)
    _rng(config.seed, "unanswerable").shuffle(pool)
    chosen: list[_Fact] = []
    start = 0
    while len(chosen) < quota and start < len(pool):
        batch = pool[start : start + 2 * (quota - len(chosen)) + 8]
        start += len(batch)
        b.check([q for f in batch for q in f.questions])
        for fact in batch:
            if len(chosen) < quota and (kept := b.screen(fact, seen)) is not None:
                chosen.append(kept)
    facts += sorted(chosen, key=lambda f: f.key)

    val = _val_facts({f.key for f in facts}, config.val_fraction, config.seed)
    examples = b.examples(facts, val)
    examples += b.extra_examples(extras, examples)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    digest = hashlib.sha256()
    for name in FILES:
        fmt, split = name.split("_")
        rows = sorted(
            (e for e in examples if e.format == fmt and e.split == split), key=lambda e: e.id
        )
        data = "".join(e.line() + "\n" for e in rows).encode("utf-8")
        files[name] = out_dir / f"{name}.jsonl"
        files[name].write_bytes(data)
        digest.update(f"{name}.jsonl\n".encode())
        digest.update(hashlib.sha256(data).digest())
    order = {r: i for i, r in enumerate(REASONS)}
    excluded = sorted(
        b.excluded,
        key=lambda x: (
            order.get(x["reason"], 99),
            x.get("file", ""),
            x.get("line", 0),
            x["question"],
        ),
    )
    titles = {h.document_id: h.document for h in b.hits.values()}
    report = DatasetReport(
        out_dir=out_dir,
        files=files,
        counts=_counts(examples, excluded, titles),
        excluded=excluded,
        data_hash=digest.hexdigest(),
        config={**config.to_dict(), "eval_files": [str(p) for p in eval_paths]},
    )
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    (out_dir / "report.json").write_text(text, encoding="utf-8")
    return report
