"""Examples in both inference formats: closed book (``closed_book_messages`` + answer, for
``ft`` mode) and RAFT (``build_messages`` with the oracle chunks among hard distractors, or
distractors only answered with the refusal, for ``hybrid``), each within ``max_tokens``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.examples import ChatTokenizer, DatasetConfig, Example, Exclusions, Message
from finetune.facts import Corpus, MinedFact
from finetune.leaks import LeakScreen
from finetune.templates import cite, normalise, seeded_rng, short_hash, source_line
from finetune.user_files import UserExample
from graph.base import GraphStore
from retrieval.graph_facts import GraphLookup, GraphRetriever
from retrieval.store import ChunkStore
from serving.answering.compose import quoted
from serving.answering.evidence import AnswerUnit
from serving.answering.prompt import REFUSAL, build_messages, closed_book_messages, source_label

# Facts answered the way hybrid answers them: the manual's line holding the value, quoted
# with its [n] and page. Procedures and warnings are quoted as blocks already.
QUOTED_KINDS = ("spec", "part", "interval")


class ExampleBuilder:
    """Renders facts (and user examples) as ``Example``s, counting tokens with the
    generator's own tokenizer and chat template."""

    def __init__(
        self,
        pg: ChunkStore,
        graph: GraphStore,
        corpus: Corpus,
        tokenizer: ChatTokenizer,
        config: DatasetConfig,
        screen: LeakScreen,
        excluded: Exclusions,
    ):
        self.pg, self.tok, self.cfg, self.drop = pg, tokenizer, config, excluded.drop
        self.hits, self.chunk_ids = corpus.hits, corpus.chunk_ids
        self.vectors, self.leaks = screen.vectors, screen.leaks
        self._chunk_tokens: dict[str, int] = {}
        self._near: dict[str, list[str]] = {}
        self.linker = GraphRetriever(graph, pg)
        self._lookups: dict[str, GraphLookup] = {}
        self._units: dict[str, list[AnswerUnit]] = {}  # per chunk, for ``line``
        # Tokens of a RAFT example beyond its question, answer and excerpts: prompt, template.
        empty, _ = build_messages("", [], [])
        self._overhead = self.count([*empty, {"role": "assistant", "content": ""}])

    def count(self, messages: list[Message]) -> int:
        encoded = self.tok.apply_chat_template(messages, tokenize=True, return_dict=True)
        return len(encoded["input_ids"])

    def chunk_tokens(self, chunk: str) -> int:
        if chunk not in self._chunk_tokens:
            hit = self.hits[chunk]
            text = f"{source_label(9, hit)}\n{hit.text}\n\n"
            self._chunk_tokens[chunk] = len(self.tok.encode(text, add_special_tokens=False))
        return self._chunk_tokens[chunk]

    def nearest(self, fact: MinedFact) -> list[str]:
        """Chunks most similar to the fact's first question (one search per fact; exact, so
        the same order every run)."""
        if fact.key not in self._near:
            vector = self.vectors[fact.questions[0]]
            rows = self.pg.vector_search(vector, k=40, exact=True)
            self._near[fact.key] = [r["chunk_id"] for r in rows if r["chunk_id"] in self.hits]
        return self._near[fact.key]

    def distractors(self, fact: MinedFact, question: str, budget: int) -> list[str]:
        """Hard distractors (similar chunks that do not hold the answer), random ones only
        when those do not fit the token budget."""
        want = self.cfg.raft_distractors
        if want <= 0:
            return []
        exclude = fact.bearing | set(fact.oracles)
        rng = seeded_rng(self.cfg.seed, "distractors", fact.key, question)
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

    def line(self, fact: MinedFact, text: str, chunk: str) -> str | None:
        """The manual's line a segment of a fact was read from (see ``source_line``)."""
        if fact.kind not in QUOTED_KINDS or not chunk:
            return None
        if chunk not in self._units:
            hit = self.hits[chunk]
            self._units[chunk] = [
                AnswerUnit(r["text"], r["kind"], hit, r["ordinal"], 0.0)
                for r in self.pg.units_of([chunk])
            ]
        return source_line(text, self._units[chunk], fact.equipment)

    def answer(self, fact: MinedFact, numbers: dict[str, int]) -> str:
        """The answer over chunks numbered ``numbers``: each segment's source line quoted
        with its [n] and page, as a hybrid answer is, else the segment with its [n]."""
        parts = []
        for text, chunk in fact.segments:
            line = self.line(fact, text, chunk)
            n = numbers[chunk]
            parts.append(quoted(line, n, self.hits[chunk]) if line else cite(text, n))
        return fact.joiner.join(parts)

    def closed_answer(self, fact: MinedFact) -> str:
        if not fact.answerable:
            return REFUSAL
        hit = self.hits[fact.oracles[0]]
        lines = [(self.line(fact, t, c), t) for t, c in fact.segments]
        text = fact.joiner.join(f'"{line}"' if line else t for line, t in lines)
        return f"{text}\nSource: {hit.document}, p. {hit.pages}."

    def raft_base(self, fact: MinedFact, question: str, with_oracle: bool) -> int:
        """Tokens of a RAFT example before distractors, estimated without rendering it
        (neutralising chunk text is slow); the exact count has the last word."""
        oracles = fact.oracles if with_oracle and fact.answerable else []
        answer = self.answer(fact, dict.fromkeys(oracles, 1)) if oracles else REFUSAL
        base = self._overhead + sum(self.chunk_tokens(c) for c in oracles)
        return base + len(self.tok.encode(f"{question}\n{answer}", add_special_tokens=False))

    def raft(self, fact: MinedFact, question: str, with_oracle: bool) -> tuple[list[Message], int]:
        """``build_messages`` over the oracle chunks placed among distractors (or distractors
        only), answered with citations to the oracles, or with the refusal."""
        oracles = fact.oracles if with_oracle and fact.answerable else []

        def render(distractors: list[str]) -> list[Message]:
            rng = seeded_rng(self.cfg.seed, "raft-order", fact.key, question)
            order = list(distractors)
            for chunk in oracles:
                order.insert(rng.randint(0, len(order)), chunk)
            numbers = {c: n for n, c in enumerate(order, start=1)}
            answer = self.answer(fact, numbers) if oracles else REFUSAL
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

    def examples(self, facts: list[MinedFact], val: set[str]) -> list[Example]:
        pairs = [(f, q) for f in facts for q in f.questions]
        # Distractors-only examples are drawn among questions whose oracle fits max_tokens:
        # where no answer with context fits, a refusal alone would teach the wrong thing.
        fits = sorted(
            (f.key, q)
            for f, q in pairs
            if f.answerable and self.raft_base(f, q, True) <= self.cfg.max_tokens
        )
        n = round(len(fits) * self.cfg.raft_no_oracle)
        no_oracle = set(seeded_rng(self.cfg.seed, "no-oracle").sample(fits, n))
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
                ex_id = f"{fmt}-{fact.kind}-{short_hash(fact.key, q)}"
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

    def extra_examples(self, extras: list[UserExample], examples: list[Example]) -> list[Example]:
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
