"""Quick figures on a question set: retrieval recall@5 per retriever and fused, then answer
accuracy and hallucination rates per mode.

    python -m eval.devset [--dataset data/eval/dev.jsonl] [--modes rag,ft,hybrid] [--limit N]
                               [--adapter NAME] [--out results.json]

Runs against the configured workspace (the README's main command ingests the samples into
it). Accuracy: every ``must_contain`` string present (normalised units, dashes, case,
thousands separators); unanswerables count as correct when refused. Hallucination: answers
naming a part number or value found nowhere in the corpus, plus answers to unanswerable
questions that are not refusals.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.progress import track

from eval.dataset import EvalItem, load
from eval.metrics import score_answer
from eval.retrieval import evidence_rank, mrr, recall_at
from retrieval.fusion import rrf
from retrieval.hybrid import HybridRetriever

ROOT = Path(__file__).resolve().parent.parent


def retrieval_table(hybrid: HybridRetriever, items: list[EvalItem]) -> dict[str, dict]:
    ranks: dict[str, list] = {"vector": [], "keyword": [], "graph": [], "fused": []}
    for item in track(items, description="retrieval", transient=True):
        r = hybrid.retrieve(item.question)
        for name, hits in r.by_retriever.items():
            ranks[name].append(evidence_rank(hits, item.evidence))
        fused = rrf(r.by_retriever, hybrid.weights, hybrid.settings.rrf_k)
        ranks["fused"].append(evidence_rank(fused, item.evidence))
    return {
        name: {"recall@5": recall_at(v, 5), "recall@20": recall_at(v, 20), "mrr": mrr(v)}
        for name, v in ranks.items()
    }


def answer_table(
    answerer, items: list[EvalItem], modes: list[str], corpus_index, adapter: str | None = None
) -> dict:
    out = {}
    for mode in modes:
        scores, latencies, unverified, rows = [], [], 0, []
        for item in track(items, description=f"answers ({mode})", transient=True):
            t0 = time.perf_counter()
            a = answerer.ask(item.question, mode=mode, adapter=adapter)
            latencies.append(time.perf_counter() - t0)
            s = score_answer(a.answer, item.model_dump(), corpus_index)
            scores.append((item, s))
            unverified += not a.verified
            rows.append({"id": item.id, "answer": a.answer, "verified": a.verified, **s.to_dict()})
        answerable = [s for i, s in scores if i.answerable]
        unanswerable = [s for i, s in scores if not i.answerable]
        hallucinated = [
            s for i, s in scores if s.hallucinated or (not i.answerable and not s.refused)
        ]
        latencies.sort()
        out[mode] = {
            "questions": len(scores),
            "model": a.model,
            "accuracy": sum(s.correct for _, s in scores) / len(scores),
            "answerable_accuracy": _share(answerable, lambda s: s.correct),
            "refusal_accuracy": _share(unanswerable, lambda s: s.refused),
            "false_refusal_rate": _share(answerable, lambda s: s.refused),
            "hallucination_rate": len(hallucinated) / len(scores),
            "part_or_value_hallucination_rate": _share(
                [s for _, s in scores], lambda s: bool(s.hallucinated)
            ),
            "guard_unverified_drafts": unverified,
            "latency_p50_s": latencies[len(latencies) // 2],
            "latency_p95_s": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
            "answers": rows,
        }
    return out


def _share(scores: list, pred) -> float | None:
    return sum(1 for s in scores if pred(s)) / len(scores) if scores else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", type=Path, default=ROOT / "data" / "eval" / "dev.jsonl")
    p.add_argument("--modes", default="rag,ft,hybrid")
    p.add_argument("--limit", type=int, default=None, help="first N questions only")
    p.add_argument(
        "--adapter", default=None, help="adapter for ft and hybrid [MAINT_ADAPTER; none: base]"
    )
    p.add_argument("--out", type=Path, default=None, help="write the full results as JSON")
    args = p.parse_args(argv)

    from infra.services import stores
    from ingestion.embed import embedder_for
    from maint.settings import Settings
    from retrieval.graph_facts import GraphRetriever
    from serving.answer import Answerer
    from serving.guard import SourceIndex

    settings = Settings()
    items = load(args.dataset)[: args.limit]
    modes = [m for m in args.modes.split(",") if m]
    with stores(settings) as (pg, graph):
        if not pg.counts()["chunks"]:
            sys.exit("nothing ingested: run `maint ingest data/samples/manuals` first")
        answerer = Answerer(settings, pg, embedder_for(settings), GraphRetriever(graph, pg))
        corpus = SourceIndex(c["text"] for d in pg.list_documents() for c in pg.chunks(d.id))
        retrieval = retrieval_table(answerer.retriever, [i for i in items if i.answerable])
        answers = answer_table(answerer, items, modes, corpus, args.adapter) if modes else {}

    print(f"\nRetrieval on {args.dataset.name} ({sum(i.answerable for i in items)} answerable)")
    print(f"{'retriever':<10}{'recall@5':>10}{'recall@20':>11}{'MRR':>7}")
    for name, m in retrieval.items():
        print(f"{name:<10}{m['recall@5']:>10.3f}{m['recall@20']:>11.3f}{m['mrr']:>7.3f}")
    if answers:
        models = ", ".join(f"{mode}: {m['model']}" for mode, m in answers.items())
        print(f"\nAnswers ({len(items)} questions; {models})")
        print(
            f"{'mode':<8}{'accuracy':>9}{'answerable':>11}{'refusal':>9}{'false ref':>10}"
            f"{'halluc.':>9}{'p/n+value':>10}{'unverified':>11}{'p50 s':>7}{'p95 s':>7}"
        )
        for mode, m in answers.items():
            print(
                f"{mode:<8}{m['accuracy']:>9.3f}{_f(m['answerable_accuracy']):>11}"
                f"{_f(m['refusal_accuracy']):>9}{_f(m['false_refusal_rate']):>10}"
                f"{m['hallucination_rate']:>9.3f}{m['part_or_value_hallucination_rate']:>10.3f}"
                f"{m['guard_unverified_drafts']:>11}{m['latency_p50_s']:>7.1f}"
                f"{m['latency_p95_s']:>7.1f}"
            )
    if args.out:
        args.out.write_text(json.dumps({"retrieval": retrieval, "answers": answers}, indent=2))
        print(f"\nwrote {args.out}")
    return 0


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
