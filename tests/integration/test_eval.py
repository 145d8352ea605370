"""``maint eval``: the dataset loader's errors, and the whole evaluation of a tiny dataset
on the real stack (real stores, real embedder, real SmolLM2), as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.baselines import RETRIEVERS
from tests.helpers import ROOT, SAMPLES, maint_offline

DEV = ROOT / "data" / "eval" / "dev.jsonl"


# -- end to end -------------------------------------------------------------------------------

TINY_IDS = ["p200-003", "p200-009", "dg450-014", "p200-026"]  # spec, part, safety, unanswerable


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    rows = {json.loads(line)["id"]: line for line in DEV.read_text().splitlines()}
    path = tmp_path_factory.mktemp("tiny") / "tiny.jsonl"
    path.write_text("".join(rows[i] + "\n" for i in TINY_IDS), encoding="utf-8")
    return path


def test_eval_of_a_tiny_dataset_on_the_real_stack(corpus, tiny, tmp_path):
    out = tmp_path / "report"
    run = maint_offline(
        "eval",
        "--dataset",
        str(tiny),
        "--modes",
        "rag,ft,hybrid",
        "--out",
        str(out),
        "--json",
        data_dir=corpus.settings.data_dir,
        models=corpus.settings.models_dir,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["report"] == str(out) and summary["questions"] == 4
    modes = {m["mode"]: m for m in summary["modes"]}
    assert list(modes) == ["rag", "ft", "hybrid"]
    for m in modes.values():
        assert m["counts"]["questions"] == 4 and m["counts"]["answerable"] == 3
        for key in (
            "accuracy",
            "refusal_accuracy",
            "part_number_hallucination_rate",
            "value_hallucination_rate",
            "latency_p50_s",
        ):
            assert m[key] is not None, key
        assert 0 <= m["accuracy"] <= 1 and m["latency_p95_s"] >= m["latency_p50_s"] > 0
        assert m["counts"]["safety_questions"] == 1  # dg450-014
        ragas = m["ragas"]
        assert ragas["semantic_similarity"]["valid"] == 4  # the unanswerable has a reference too
    # Search-based modes never let an invented part number or value through (the guard).
    assert modes["rag"]["invented_part_number_rate"] == 0
    assert modes["hybrid"]["invented_value_rate"] == 0
    assert modes["ft"]["ragas"]["context_recall"]["not_applicable"] == 4  # closed book
    assert set(summary["retrieval"]) == set(RETRIEVERS)

    files = {p.name for p in out.iterdir()}
    assert {"report.md", "results.json", "metrics.png", "accuracy_by_type.png"} <= files
    assert {"answers-rag.jsonl", "answers-ft.jsonl", "answers-hybrid.jsonl"} <= files
    rows = [json.loads(x) for x in (out / "answers-hybrid.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == TINY_IDS
    assert all(r["citations"] and "ragas" in r for r in rows)
    report = (out / "report.md").read_text()
    assert "## Answers per mode" in report and "| hybrid |" in report and "bm25" in report
    assert (out / "metrics.png").stat().st_size > 5_000


def test_retrieval_only_eval_reports_ranks_and_misses(corpus, tmp_path):
    """--retrieval-only: no answers, every retriever's figures, and per question the rank each
    retriever gave the evidence; report.md lists the fused misses."""
    out = tmp_path / "report"
    run = maint_offline(
        "eval", "--retrieval-only", "--out", str(out), "--json",
        data_dir=corpus.settings.data_dir, models=corpus.settings.models_dir,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["modes"] == [] and set(summary["retrieval"]) == set(RETRIEVERS)
    results = json.loads((out / "results.json").read_text())
    answerable = [json.loads(x) for x in DEV.read_text().splitlines()]
    answerable = [r["id"] for r in answerable if r["answer_type"] != "unanswerable"]
    ranks = results["retrieval_ranks"]
    assert list(ranks) == answerable and all(set(r) == set(RETRIEVERS) for r in ranks.values())
    fused = summary["retrieval"]["fused"]["recall@5"]
    assert fused == sum(1 for r in ranks.values() if (r["fused"] or 99) <= 5) / len(ranks)
    missed = [q for q, r in ranks.items() if (r["fused"] or 99) > 5]
    report = (out / "report.md").read_text()
    assert all(f"| {q} |" in report for q in missed) and "## Answers per mode" not in report
    assert not list(out.glob("answers-*.jsonl"))


def test_eval_on_your_own_manuals_in_an_isolated_workspace(corpus, tiny, tmp_path):
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "sb.txt").write_bytes((SAMPLES / "sb-2024-07-p200-impeller.txt").read_bytes())
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    workspace = tmp_path / "ws"
    run = maint_offline(
        "eval",
        "--dataset",
        str(tiny),
        "--docs",
        str(docs),
        "--workspace",
        str(workspace),
        "--modes",
        "rag",
        "--limit",
        "2",
        "--out",
        str(tmp_path / "r"),
        "--json",
        data_dir=corpus.settings.data_dir,
        models=corpus.settings.models_dir,
    )
    try:
        assert run.returncode == 0, run.stderr[-3000:]
        assert "broken.pdf" in run.stderr  # the bad file is named, the good one evaluated
        summary = json.loads(run.stdout)
        assert summary["questions"] == 2
        results = json.loads((tmp_path / "r" / "results.json").read_text())
        assert results["workspace"] == str(workspace.resolve())
        assert results["corpus"]["chunks"] < corpus.pg.counts()["chunks"]  # only that bulletin
        assert (workspace / "postgres").exists() or any(workspace.iterdir())
    finally:
        maint_offline("services", "stop", data_dir=workspace, models=corpus.settings.models_dir)
