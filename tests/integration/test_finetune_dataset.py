"""Fine-tuning data built from the ingested sample corpus: both chat formats exactly as the
answerer sends them, values as written, a split by held-out facts, determinism, no leakage of
eval questions, and bad lines of a user's file reported rather than trained on."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from eval.dataset import load
from finetune.dataset import build_dataset
from finetune.examples import DEV_SET, FILES, DatasetConfig, DatasetReport
from finetune.templates import normalise
from serving.answering.models import bundled_model_path
from serving.answering.prompt import REFUSAL, SYSTEM, SYSTEM_CLOSED_BOOK, closed_book_messages

GENERATED = ("spec", "part", "procedure", "safety", "interval", "unanswerable")


class CachedEmbedder:
    """The session embedder, memoised per text, so the repeated builds embed each question
    once (a build is otherwise mostly embedding time on a small CPU)."""

    def __init__(self, inner):
        self.inner = inner
        self.dim = inner.dim
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.cache[t] for t in texts])

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return AutoTokenizer.from_pretrained(str(bundled_model_path(corpus.settings)))


@pytest.fixture(scope="module")
def cached(embedder) -> CachedEmbedder:
    return CachedEmbedder(embedder)


@pytest.fixture(scope="module")
def dev():
    return load(DEV_SET)


@pytest.fixture(scope="module")
def extra_file(tmp_path_factory, dev) -> Path:
    """A user's file: good lines, bad lines, and two planted eval questions."""
    drain = next(item for item in dev if item.id == "dg450-004")
    assert drain.question == "What torque does the sump drain plug on the DG-450 need?"
    good = {
        "question": "Who do I call for P-200 spare parts?",
        "answer": "Order through the plant stores with the part number and the pump serial.",
    }
    raft = {
        "format": "raft",
        "messages": [
            {
                "role": "user",
                "content": "<context>\n[1] (Plant notes, p. 1)\nThe P-200 in bay 4 feeds line B."
                "\n</context>\n\nQuestion: Which line does the bay 4 pump feed?",
            },
            {"role": "assistant", "content": "Line B [1]."},
        ],
    }
    wrong_system = {
        "messages": [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "Oil for the CG-90?"},
            {"role": "assistant", "content": "Arr, CLP 220."},
        ]
    }
    lines = [
        json.dumps(good),  # 1: imported
        json.dumps(good),  # 2: duplicate pair
        '{"question": "Oil type for the CG-90?", "answer": ',  # 3: broken JSON
        json.dumps({"question": "How often is the RSC-75 serviced?", "answer": "  "}),  # 4
        json.dumps({"question": "Summarise the P-200 manual.", "answer": "word " * 1500}),  # 5
        json.dumps({"question": drain.question, "answer": drain.answer}),  # 6: verbatim
        json.dumps(
            {
                "question": "What torque does the sump drain plug of the DG-450 need?",
                "answer": drain.answer,
            }
        ),  # 7: near-verbatim
        json.dumps(raft),  # 8: imported
        json.dumps(wrong_system),  # 9: system prompt that inference never sends
    ]
    path = tmp_path_factory.mktemp("extra") / "mine.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config(extra_file) -> DatasetConfig:
    return DatasetConfig(seed=0, extra=[extra_file])


@pytest.fixture(scope="module")
def built(corpus, cached, tokenizer, config, tmp_path_factory) -> DatasetReport:
    out = tmp_path_factory.mktemp("ft-data")
    return build_dataset(corpus.pg, corpus.graph, cached, tokenizer, config, out)


def _rows(report: DatasetReport, name: str) -> list[dict]:
    text = report.files[name].read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _all(report: DatasetReport) -> dict[str, list[dict]]:
    return {name: _rows(report, name) for name in FILES}


def _question(row: dict) -> str:
    user = row["messages"][1]["content"]
    return user.rsplit("Question: ", 1)[-1] if row["format"] == "raft" else user


def _excerpts(user: str) -> dict[int, str]:
    """Context excerpts of a RAFT prompt by their number."""
    context = user.split("<context>\n", 1)[1].split("\n</context>", 1)[0]
    parts = re.split(r"(?m)^\[(\d+)\] \(", context)
    return {int(n): body for n, body in zip(parts[1::2], parts[2::2], strict=True)}


# -- the helpers the answers are made of ------------------------------------------------------


# -- the dataset --------------------------------------------------------------------------------
def test_every_kind_in_both_formats_and_a_fact_disjoint_split(built):
    by_kind = built.counts["by_kind"]
    for kind in GENERATED:
        for fmt in ("closed", "raft"):
            assert by_kind[kind][fmt]["train"] > 0, (kind, fmt)
        assert by_kind[kind]["closed"]["val"] > 0, kind
    assert by_kind["extra"]["closed"]["train"] == 1 and by_kind["extra"]["raft"]["train"] == 1
    rows = _all(built)
    assert all(rows[name] for name in FILES)
    train = {r["fact"] for name in ("closed_train", "raft_train") for r in rows[name] if r["fact"]}
    val = {r["fact"] for name in ("closed_val", "raft_val") for r in rows[name]}
    assert val and not train & val
    assert all(r["kind"] != "extra" for name in ("closed_val", "raft_val") for r in rows[name])
    assert built.counts["examples"] == sum(len(v) for v in rows.values())
    saved = json.loads((built.out_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["data_hash"] == built.data_hash and saved["excluded"] == built.excluded


def test_messages_are_exactly_the_inference_format(built, tokenizer):
    rows = _all(built)
    for name in ("closed_train", "closed_val"):
        for r in rows[name]:
            assert r["format"] == "closed"
            question = r["messages"][1]["content"]
            assert r["messages"][:2] == closed_book_messages(question)
            assert r["messages"][0]["content"] == SYSTEM_CLOSED_BOOK
            assert r["messages"][2]["role"] == "assistant" and r["messages"][2]["content"].strip()
    for name in ("raft_train", "raft_val"):
        for r in rows[name]:
            system, user, assistant = r["messages"]
            assert system == {"role": "system", "content": SYSTEM}
            assert user["role"] == "user" and user["content"].startswith("<context>\n")
            assert "\n</context>\n\nQuestion: " in user["content"]
            assert assistant["role"] == "assistant" and assistant["content"].strip()
    for r in rows["raft_val"][:20] + rows["closed_val"][:20]:
        ids = tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)
        assert len(ids["input_ids"]) <= DatasetConfig().max_tokens


def test_answers_carry_the_values_as_written(built):
    rows = _all(built)
    closed = [r for n in ("closed_train", "closed_val") for r in rows[n]]
    raft = [r for n in ("raft_train", "raft_val") for r in rows[n]]
    impeller = [
        r
        for r in closed
        if r["kind"] == "spec"
        and r["fact"].startswith("spec:P-200:")
        and "impeller nut" in _question(r)
        and "WP-2207-A" in _question(r)
    ]
    assert impeller
    for r in impeller:
        answer = r["messages"][2]["content"]
        # The manual's row, quoted: "Torque: 95 N·m; Torque: 70 lbf·ft; …: Lubricated threads"
        assert "95 N·m" in answer and "70 lbf·ft" in answer
        assert "lubricated threads" in answer.lower()
        assert "Source: " in answer
    cited = 0
    for r in raft:
        if r["fact"] not in {i["fact"] for i in impeller}:
            continue
        answer = r["messages"][2]["content"]
        excerpts = _excerpts(r["messages"][1]["content"])
        if answer == REFUSAL:  # distractors only: the value must not be in the context
            assert not any("95 N·m" in text for text in excerpts.values())
            continue
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", answer)]
        assert numbers and "95 N·m" in answer
        assert all("95 N·m" in excerpts[n] for n in numbers)
        cited += 1
    assert cited
    no_oracle = [
        r for r in raft if r["kind"] != "unanswerable" and r["messages"][2]["content"] == REFUSAL
    ]
    assert no_oracle and built.counts["raft_no_oracle"] == len(no_oracle)
    unanswerable = [r for r in closed + raft if r["kind"] == "unanswerable"]
    assert unanswerable and all(r["messages"][2]["content"] == REFUSAL for r in unanswerable)
    procedures = [
        r
        for r in closed
        if r["kind"] == "procedure" and "Safety warnings:" in r["messages"][2]["content"]
    ]
    assert procedures
    for r in procedures:
        steps = re.findall(r"(?m)^(\d+)\. ", r["messages"][2]["content"])
        assert [int(n) for n in steps] == list(range(1, len(steps) + 1))


_QUOTED = re.compile(r'"(.+)" \[(\d+)\] \(p\. [\d-]+\)')


def test_value_answers_quote_the_manual_line_as_hybrid_answers_do(built):
    """RAFT answers to spec, part and interval questions are the manual's line holding the
    value, quoted with its [n] and page (the evidence-first answer format), where one line
    holds it; the quoted line stands in the excerpt it cites."""
    rows = _all(built)
    raft = [
        r
        for n in ("raft_train", "raft_val")
        for r in rows[n]
        if r["kind"] in ("spec", "part", "interval") and r["messages"][2]["content"] != REFUSAL
    ]
    quoted = [(r, _QUOTED.fullmatch(r["messages"][2]["content"])) for r in raft]
    quoted = [(r, m) for r, m in quoted if m]
    assert len(quoted) >= 0.6 * len(raft), (len(quoted), len(raft))
    for r, m in quoted:
        text, n = m.group(1), int(m.group(2))
        excerpt = " ".join(_excerpts(r["messages"][1]["content"])[n].split())
        if " | " not in excerpt or "; " not in text:  # a sentence: verbatim
            assert " ".join(text.split()) in excerpt, (text, excerpt[:300])
        assert all(x in excerpt for x in re.findall(r"\d[\d.,/-]*", text)), text


def test_no_eval_question_leaks_into_generated_data(built, cached, dev):
    rows = _all(built)
    questions = sorted({_question(r) for v in rows.values() for r in v if r["kind"] != "extra"})
    dev_text = {normalise(item.question) for item in dev}
    assert not [q for q in questions if normalise(q) in dev_text]
    sims = cached.embed(questions) @ cached.embed([item.question for item in dev]).T
    assert sims.max() < DatasetConfig().near_duplicate_similarity
    generated = [x for x in built.excluded if x["reason"].startswith("eval-") and "line" not in x]
    assert generated, "the sample corpus always produces some questions close to dev ones"


def test_planted_leaks_and_bad_lines_are_reported_with_line_numbers(built, extra_file):
    mine = {x["line"]: x for x in built.excluded if x.get("file") == str(extra_file)}
    assert {n: x["reason"] for n, x in mine.items()} == {
        2: "duplicate",
        3: "bad-jsonl",
        4: "empty-answer",
        5: "too-long",
        6: "eval-verbatim",
        7: "eval-near-duplicate",
        9: "bad-jsonl",
    }
    assert mine[6]["eval_id"] == mine[7]["eval_id"] == "dg450-004"
    extras = {
        r["id"]: r
        for name in ("closed_train", "raft_train")
        for r in _rows(built, name)
        if r["kind"] == "extra"
    }
    assert sorted(extras) == ["extra-0-00001", "extra-0-00008"]
    assert extras["extra-0-00008"]["messages"][0] == {"role": "system", "content": SYSTEM}
    assert extras["extra-0-00001"]["messages"][0]["content"] == SYSTEM_CLOSED_BOOK


def test_same_seed_same_bytes_other_seed_other_data(
    corpus, cached, tokenizer, config, built, tmp_path
):
    again = build_dataset(corpus.pg, corpus.graph, cached, tokenizer, config, tmp_path / "a")
    assert again.data_hash == built.data_hash
    for name in FILES:
        assert again.files[name].read_bytes() == built.files[name].read_bytes()
    other = DatasetConfig(seed=1, extra=config.extra)
    changed = build_dataset(corpus.pg, corpus.graph, cached, tokenizer, other, tmp_path / "b")
    assert changed.data_hash != built.data_hash


def test_raft_prompts_carry_the_graph_facts_a_hybrid_answer_gets(built):
    """Hybrid inference puts the graph's facts for the context below the excerpts; RAFT
    training examples are built through the same lookup, so they do too."""
    rows = [r for n in ("raft_train", "raft_val") for r in _rows(built, n)]
    with_facts = 0
    for r in rows:
        user = r["messages"][1]["content"]
        if "\nFacts from the knowledge graph:\n" not in user:
            continue
        with_facts += 1
        numbers = set(_excerpts(user))
        block = user.split("\nFacts from the knowledge graph:\n", 1)[1].split("\n</context>")[0]
        for line in block.splitlines():
            assert line.startswith("- "), line
            ref = re.search(r" \[(\d+)\]$", line)
            assert ref is None or int(ref.group(1)) in numbers, (line, sorted(numbers))
    assert with_facts > 0.3 * len(rows), (with_facts, len(rows))


def test_selector_trains_on_the_generated_questions_and_keeps_the_better(built, corpus, cached):
    """`maint finetune selector`'s steps on real stores: generated questions retrieved, lines
    labelled by the facts' values, a fit compared with similarity alone on held-out facts."""
    from finetune.selector import collect, questions, train
    from retrieval.graph_facts import GraphRetriever
    from retrieval.hybrid import HybridRetriever
    from serving.answering.selector import LinearSelector

    rows = questions(built.out_dir, most=60)
    assert {split for *_, split in rows} == {"train", "val"}
    retriever = HybridRetriever(
        corpus.settings, corpus.pg, cached, GraphRetriever(corpus.graph, corpus.pg)
    )
    data = collect(retriever, corpus.pg, rows, depth=8)
    answerable = [d for d in data if d.answerable]
    # Most generated questions have their fact's line among the candidates, labelled right.
    assert sum(any(d.labels) for d in answerable) >= 0.7 * len(answerable)
    assert all(not any(d.labels) for d in data if not d.answerable)
    selector, report = train(data)
    assert report["kept"] in ("fitted", "similarity") and report["questions"] == len(rows)
    v = report["val_best_line_right"]
    assert v[report["kept"]] >= max(v.values())  # the better one on held-out facts is kept
    assert 0.0 < v["similarity"] <= 1.0
    path = built.out_dir / "selector.json"
    selector.save(path)
    again = LinearSelector.load(path)
    assert again.weights == selector.weights and again.threshold == selector.threshold
