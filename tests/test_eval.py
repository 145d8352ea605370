"""``maint eval``: the dataset loader's errors, and the whole evaluation of a tiny dataset
on the real stack (real stores, real embedder, real SmolLM2), as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eval.baselines import RETRIEVERS
from eval.dataset import DatasetError, load
from eval.retrieval import Passage, gold_rank
from tests.conftest import ROOT, SAMPLES
from tests.test_cli import maint as run_maint

DEV = ROOT / "data" / "eval" / "dev.jsonl"
GOOD = {
    "id": "q1",
    "question": "What torque does the impeller nut get?",
    "answer": "110 N·m",
    "answer_type": "spec",
    "must_contain": ["110 N·m"],
    "evidence": "Tighten the impeller nut to 110 N·m.",
}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dev_set_loads():
    items = load(DEV)
    assert len(items) == 85 and sum(not i.answerable for i in items) == 13


def test_evidence_located_by_page_counts_the_sources_on_that_page(tmp_path):
    """The real-manual set's items say where the evidence is: "(PDF p. N)" of a manual."""
    row = {**GOOD, "doc": "docs/TM-1.pdf", "page_or_section": "para 2-3c, frame 1 (PDF p. 19)"}
    (item,) = load(write(tmp_path, json.dumps(row)))
    assert item.page == 19 and item.gold.by_page
    page = Passage("other words entirely", "/manuals/TM-1.pdf", 18, 19)
    assert gold_rank([Passage("x", "/manuals/TM-1.pdf", 20, 20), page], item.gold) == 2
    assert not item.gold.held_by(Passage(GOOD["evidence"], "/manuals/TM-2.pdf", 19, 19))
    (dev,) = load(write(tmp_path, json.dumps({**GOOD, "doc": "TM-1.pdf"})))  # no page: text
    assert not dev.gold.by_page and dev.gold.held_by(Passage(GOOD["evidence"], "TM-9.pdf"))
    bad = {**row, "page": 0}
    with pytest.raises(DatasetError, match="page"):
        load(write(tmp_path, json.dumps(bad)))


def test_extra_fields_are_ignored_and_blank_lines_skipped(tmp_path):
    row = json.dumps({**GOOD, "reviewer": "jb", "notes": {"x": 1}})
    (item,) = load(write(tmp_path, "", row, "   "))
    assert item.id == "q1" and item.must_contain == ["110 N·m"]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("{not json", "set.jsonl:2: not valid JSON"),
        ('["a list"]', "set.jsonl:2: a JSON object is expected"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "question"}),
            "missing field 'question'",
        ),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "answer_type"}),
            "missing field 'answer_type'",
        ),
        (
            json.dumps({**GOOD, "answer_type": "torque"}),
            "unknown answer_type 'torque' (use one of: spec,",
        ),
        (json.dumps({**GOOD, "must_contain": []}), "set.jsonl:2: must_contain is empty"),
        (json.dumps({**GOOD, "must_contain": "110 N·m"}), "set.jsonl:2: must_contain: "),
        (json.dumps({**GOOD, "id": "q0"}), "id 'q0' repeats line 1"),
    ],
)
def test_loader_errors_name_the_line_and_field(tmp_path, line, expected):
    first = json.dumps({**GOOD, "id": "q0"})
    with pytest.raises(DatasetError) as info:
        load(write(tmp_path, first, line))
    assert expected in str(info.value)


def test_unanswerable_needs_no_must_contain(tmp_path):
    row = {"id": "u", "question": "Injector pressure of the P-200?", "answer_type": "unanswerable"}
    (item,) = load(write(tmp_path, json.dumps(row)))
    assert not item.answerable


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DatasetError, match="no questions"):
        load(write(tmp_path, ""))
    with pytest.raises(DatasetError, match="no such file"):
        load(tmp_path / "nope.jsonl")


# -- end to end -------------------------------------------------------------------------------

TINY_IDS = ["p200-003", "p200-009", "dg450-014", "p200-026"]  # spec, part, safety, unanswerable


def maint(*args: str, data_dir: Path, models: Path) -> subprocess.CompletedProcess:
    """No OpenAI key in sight: the evaluation must never need one."""
    env = {"MAINT_MODEL_CACHE_DIR": str(models), "OPENAI_API_KEY": ""}
    return run_maint(*args, data_dir=data_dir, env=env, timeout=900)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    rows = {json.loads(line)["id"]: line for line in DEV.read_text().splitlines()}
    path = tmp_path_factory.mktemp("tiny") / "tiny.jsonl"
    path.write_text("".join(rows[i] + "\n" for i in TINY_IDS), encoding="utf-8")
    return path


@pytest.mark.slow
def test_eval_of_a_tiny_dataset_on_the_real_stack(corpus, tiny, tmp_path):
    out = tmp_path / "report"
    run = maint(
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


@pytest.mark.slow
def test_eval_on_your_own_manuals_in_an_isolated_workspace(corpus, tiny, tmp_path):
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "sb.txt").write_bytes((SAMPLES / "sb-2024-07-p200-impeller.txt").read_bytes())
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    workspace = tmp_path / "ws"
    run = maint(
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
        maint("services", "stop", data_dir=workspace, models=corpus.settings.models_dir)


def test_eval_cli_errors(tmp_path):
    bad = write(tmp_path, json.dumps({**GOOD, "answer_type": "torque"}))
    run = maint("eval", "--dataset", str(bad), data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "set.jsonl:1: unknown answer_type 'torque'" in run.stderr
    run = maint("eval", "--modes", "rag,closed", data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "closed" in run.stderr
    run = maint("eval", "--train-adapter", data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "--docs" in run.stderr
    help_text = maint("eval", "--help", data_dir=tmp_path, models=tmp_path).stdout
    for option in (
        "--dataset",
        "--modes",
        "--out",
        "--limit",
        "--json",
        "--docs",
        "--workspace",
        "--train-adapter",
        "--judge-url",
        "--judge-model",
    ):
        assert option in help_text, option
