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

The steps live in their own modules: ``facts`` (mining the graph), ``templates`` (wording),
``leaks`` (screening against the eval sets), ``raft`` (rendering both formats),
``user_files`` (the user's own examples) and ``examples`` (the records); this module runs
them in order and writes the files.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

from finetune.examples import (
    FILES,
    KINDS,
    REASONS,
    ChatTokenizer,
    DatasetConfig,
    DatasetReport,
    Example,
    Exclusions,
)
from finetune.facts import Corpus, FactMiner, MinedFact
from finetune.leaks import LeakScreen, eval_paths, load_eval_questions
from finetune.raft import ExampleBuilder
from finetune.templates import seeded_rng
from finetune.user_files import UserExample, parse_user_file
from graph.base import GraphStore
from maint.embed import Embedder
from retrieval.store import ChunkStore
from serving.answering.prompt import REFUSAL


def _val_facts(keys: set[str], fraction: float, seed: int) -> set[str]:
    """Held-out facts, drawn per fact kind so every kind has some in val."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for key in sorted(keys):
        by_kind[key.split(":", 1)[0]].append(key)
    val: set[str] = set()
    for kind, group in sorted(by_kind.items()):
        seeded_rng(seed, "split", kind).shuffle(group)
        n = round(len(group) * fraction)
        if fraction > 0 and len(group) >= 2:
            n = min(max(n, 1), len(group) - 1)
        val.update(group[:n])
    return val


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
    excluded = Exclusions()
    corpus = Corpus.load(pg, graph)
    screen = LeakScreen(embedder, config, excluded)
    b = ExampleBuilder(pg, graph, corpus, tokenizer, config, screen, excluded)
    miner = FactMiner(graph, corpus, config, excluded)
    paths = eval_paths(config.exclude)
    evals = load_eval_questions(paths)
    facts = miner.spec_facts() + miner.part_facts() + miner.procedure_facts()
    facts += miner.safety_facts() + miner.interval_facts()
    pool = miner.unanswerable_pool(facts)
    extras: list[UserExample] = []
    for index, path in enumerate(config.extra):
        kept, bad = parse_user_file(Path(path), index)
        extras += kept
        excluded.rows += bad
    screen.set_evals(evals)
    screen.check([q for f in facts for q in f.questions] + [x.question for x in extras])
    seen: dict[str, str] = {}
    facts = [f for f in (screen.screen(f, seen) for f in facts) if f is not None]
    # Unanswerable questions: as many as make up unanswerable_fraction of the questions,
    # embedded (for the leakage check) only as far as they are needed.
    frac = config.unanswerable_fraction
    asked = sum(len(f.questions) for f in facts)
    quota = round(asked * frac / (1 - frac)) if frac < 1 else len(pool)
    seeded_rng(config.seed, "unanswerable").shuffle(pool)
    chosen: list[MinedFact] = []
    start = 0
    while len(chosen) < quota and start < len(pool):
        batch = pool[start : start + 2 * (quota - len(chosen)) + 8]
        start += len(batch)
        screen.check([q for f in batch for q in f.questions])
        for fact in batch:
            if len(chosen) < quota and (kept := screen.screen(fact, seen)) is not None:
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
    dropped = sorted(
        excluded.rows,
        key=lambda x: (
            order.get(x["reason"], 99),
            x.get("file", ""),
            x.get("line", 0),
            x["question"],
        ),
    )
    titles = {h.document_id: h.document for h in corpus.hits.values()}
    report = DatasetReport(
        out_dir=out_dir,
        files=files,
        counts=_counts(examples, dropped, titles),
        excluded=dropped,
        data_hash=digest.hexdigest(),
        config={**config.to_dict(), "eval_files": [str(p) for p in paths]},
    )
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    (out_dir / "report.json").write_text(text, encoding="utf-8")
    return report
