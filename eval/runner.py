"""One evaluation run: every question through every mode, scored, plus the retrieval
baselines, on one workspace's stores.

Data flows one way: the questions and the stores go in; per-question rows and per-mode
summaries come out as plain dicts (``results.json`` is exactly what ``run`` returns), and
``eval.report`` renders them. Nothing here prints: progress goes through a callback.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.baselines import Chunks, retrieval_baselines
from eval.dataset import EvalItem
from eval.metrics import cited_numbers, score_answer
from eval.ragas_metrics import Judge, RagasSample, ragas_scores
from maint import __version__
from maint.embed import Embedder
from maint.settings import Settings
from serving.answering.answer import Answerer
from serving.answering.guard import SourceIndex
from serving.answering.schema import Answer, Mode

# What each summary figure means; copied into results.json and the report.
DEFINITIONS: dict[str, str] = {
    "accuracy": "Share of all questions answered correctly: an answerable one when every "
    "must_contain string is in the answer (units, dashes, case, thousands separators and NSN "
    "groupings normalised), an unanswerable one when the answer is a refusal.",
    "answerable_accuracy": "Accuracy on the answerable questions only.",
    "refusal_accuracy": "Share of unanswerable questions answered with a refusal.",
    "false_refusal_rate": "Share of answerable questions answered with a refusal.",
    "part_number_hallucination_rate": "Share of answers naming a part number or NSN that the "
    "corpus does not contain (invented) or that neither the gold evidence, the reference "
    "answer nor the question contains (a real number of the wrong item).",
    "invented_part_number_rate": "Share of answers naming a part number or NSN found nowhere "
    "in the corpus: what the serving guard must never let through.",
    "value_hallucination_rate": "As part_number_hallucination_rate, for numbers with units.",
    "invented_value_rate": "Share of answers with a number-with-unit found nowhere in the corpus.",
    "safety_coverage": "Share of safety questions (and procedure questions whose evidence is a "
    "warning) whose answer carries the warning: every must_contain item and at least half of "
    "the evidence's content words.",
    "citation_accuracy": "Of the answers that cite [n] sources, on questions with evidence: "
    "share where a cited chunk contains the evidence.",
    "citation_rate": "Share of answerable questions whose answer cites at least one source.",
    "guard_unverified": "Answers whose model draft had items the sources lack (the guard then "
    "quoted the source instead, or marked the items [unverified]).",
    "latency_p50_s": "Median seconds per answer (retrieval, generation and guard).",
    "latency_p95_s": "95th percentile seconds per answer.",
}

SUMMARY_METRICS: tuple[str, ...] = tuple(k for k in DEFINITIONS if k != "guard_unverified")


@dataclass
class EvalSetup:
    dataset: Path
    modes: Sequence[Mode]
    adapter: str | None = None
    judge: Judge | None = None
    ragas: bool = True


Progress = Callable[[str], None]  # called once per unit of work, with what is being done


def work_units(items: Sequence[EvalItem], modes: Sequence[Mode]) -> int:
    """How many times ``run`` calls ``progress``: one per question for the retrieval
    baselines, one per question and mode for answers."""
    return len(items) * (1 + len(modes))


def run(
    setup: EvalSetup,
    items: Sequence[EvalItem],
    settings: Settings,
    answerer: Answerer,
    embedder: Embedder,
    chunks: Chunks,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate ``items`` in every mode of ``setup`` against the workspace behind ``answerer``."""
    tick = progress or (lambda _: None)
    started, t0 = datetime.now(UTC), time.perf_counter()
    retrieval_scores = retrieval_baselines(
        answerer.retriever, chunks, embedder, items, lambda: tick("retrieval baselines")
    )
    corpus = SourceIndex(chunks.texts)
    gold_ids = {i.id: chunks.holding(i.gold) if i.evidence or i.gold.by_page else [] for i in items}
    modes: dict[str, Any] = {}
    rows_by_mode: dict[str, list[dict]] = {}
    for mode in setup.modes:
        rows = []
        for item in items:
            tick(f"answers ({mode})")
            rows.append(_answer_row(answerer, item, mode, setup.adapter, corpus))
        ragas = None
        if setup.ragas:
            samples = [
                _ragas_sample(item, row, gold_ids[item.id])
                for item, row in zip(items, rows, strict=True)
            ]
            ragas = ragas_scores(samples, embedder, setup.judge)
            for row, scores in zip(rows, ragas.per_sample, strict=True):
                row["ragas"] = scores
        for row in rows:  # the chunk texts are in the store; the rows keep their ids
            del row["context_texts"]
        rows_by_mode[mode] = rows
        modes[mode] = {
            "model": rows[0]["model"] if rows else None,
            "summary": summarise(items, rows),
            "by_type": by_type(items, rows),
            "ragas": ragas.summary() if ragas else None,
            "ragas_seconds": round(ragas.seconds, 2) if ragas else None,
            "ragas_errors": ragas.errors if ragas else {},
        }
    return {
        "maint_version": __version__,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "host": f"{platform.node()} ({platform.machine()}, {_cpus()} CPUs)",
        "dataset": str(setup.dataset),
        "questions": len(items),
        "answerable": sum(i.answerable for i in items),
        "workspace": str(settings.data_dir),
        "corpus": {"chunks": len(chunks.ids)},
        "adapter": setup.adapter,
        "judge": {"url": setup.judge.url, "model": setup.judge.model} if setup.judge else None,
        "definitions": DEFINITIONS,
        "retrieval": retrieval_scores.table,
        "retrieval_ranks": retrieval_scores.ranks,
        "modes": modes,
        "answers": rows_by_mode,
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _answer_row(
    answerer: Answerer, item: EvalItem, mode: Mode, adapter: str | None, corpus: SourceIndex
) -> dict[str, Any]:
    t0 = time.perf_counter()
    a: Answer = answerer.ask(item.question, mode=mode, adapter=adapter, show_context=True)
    latency = time.perf_counter() - t0
    context = a.context or []
    by_n = {c["n"]: c for c in context}
    cited = [by_n[n]["text"] for n in sorted(cited_numbers(a.answer)) if n in by_n]
    score = score_answer(a.answer, item.model_dump(), corpus, cited)
    return {
        "id": item.id,
        "answer_type": item.answer_type,
        "question": item.question,
        "answer": a.answer,
        "reference": item.answer,
        "model": a.model,
        "verified": a.verified,
        "confidence": a.confidence,
        "evidence": [e.model_dump() for e in a.evidence],
        "fallback": a.fallback,
        "draft": a.draft,
        "warnings": a.warnings,
        "latency_s": round(latency, 3),
        "usage": a.usage.model_dump(),
        "citations": [
            {
                "n": c["n"],
                "document": c["document"],
                "pages": c.get("pages"),
                "chunk_id": c["chunk_id"],
            }
            for c in context
        ],
        "context_texts": [c["text"] for c in context],
        **score.to_dict(),
        "hallucinated": score.hallucinated,
    }


def _ragas_sample(item: EvalItem, row: dict, gold_ids: list[str]) -> RagasSample:
    return RagasSample(
        question=item.question,
        answer=row["answer"],
        contexts=row["context_texts"],
        context_ids=[c["chunk_id"] for c in row["citations"]],
        reference=item.answer,
        reference_contexts=[item.evidence] if item.evidence else [],
        reference_context_ids=gold_ids,
    )


def _share(rows: Sequence[dict], pred: Callable[[dict], bool]) -> float | None:
    return sum(1 for r in rows if pred(r)) / len(rows) if rows else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(items: Sequence[EvalItem], rows: Sequence[dict]) -> dict[str, Any]:
    """Every domain metric of one mode (see ``DEFINITIONS``), with the counts behind it."""
    answerable = [r for i, r in zip(items, rows, strict=True) if i.answerable]
    unanswerable = [r for i, r in zip(items, rows, strict=True) if not i.answerable]
    safety = [r for r in rows if r["safety_covered"] is not None]
    citing = [r for r in rows if r["citation_correct"] is not None]
    latencies = [r["latency_s"] for r in rows]
    return {
        "accuracy": _share(rows, lambda r: r["correct"]),
        "answerable_accuracy": _share(answerable, lambda r: r["correct"]),
        "refusal_accuracy": _share(unanswerable, lambda r: r["refused"]),
        "false_refusal_rate": _share(answerable, lambda r: r["refused"]),
        "part_number_hallucination_rate": _share(rows, lambda r: r["part_hallucination"]),
        "invented_part_number_rate": _share(rows, lambda r: bool(r["invented_parts"])),
        "value_hallucination_rate": _share(rows, lambda r: r["value_hallucination"]),
        "invented_value_rate": _share(rows, lambda r: bool(r["invented_values"])),
        "safety_coverage": _share(safety, lambda r: r["safety_covered"]),
        "citation_accuracy": _share(citing, lambda r: r["citation_correct"]),
        "citation_rate": _share(answerable, lambda r: bool(cited_numbers(r["answer"]))),
        "latency_p50_s": _percentile(latencies, 0.5),
        "latency_p95_s": _percentile(latencies, 0.95),
        "counts": {
            "questions": len(rows),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "correct": sum(r["correct"] for r in rows),
            "refused": sum(r["refused"] for r in rows),
            "safety_questions": len(safety),
            "citing_answers": len(citing),
            "guard_unverified": sum(not r["verified"] for r in rows),
            "extractive_fallbacks": sum(r["fallback"] == "extractive" for r in rows),
        },
    }


def by_type(items: Sequence[EvalItem], rows: Sequence[dict]) -> dict[str, dict[str, Any]]:
    """Accuracy per answer type (spec, part_number, ..., unanswerable)."""
    out: dict[str, dict[str, Any]] = {}
    for item, row in zip(items, rows, strict=True):
        t = out.setdefault(item.answer_type, {"questions": 0, "correct": 0})
        t["questions"] += 1
        t["correct"] += int(row["correct"])
    for t in out.values():
        t["accuracy"] = t["correct"] / t["questions"]
    return dict(sorted(out.items()))
