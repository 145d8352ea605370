"""``maint eval``'s dataset loader and its command-line errors (before any store opens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import DatasetError, load
from eval.retrieval import Passage, gold_rank
from tests.helpers import ROOT, maint_offline

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


def test_eval_cli_errors(tmp_path):
    bad = write(tmp_path, json.dumps({**GOOD, "answer_type": "torque"}))
    run = maint_offline("eval", "--dataset", str(bad), data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "set.jsonl:1: unknown answer_type 'torque'" in run.stderr
    run = maint_offline("eval", "--modes", "rag,closed", data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "closed" in run.stderr
    run = maint_offline("eval", "--train-adapter", data_dir=tmp_path, models=tmp_path)
    assert run.returncode == 2 and "--docs" in run.stderr
    help_text = maint_offline("eval", "--help", data_dir=tmp_path, models=tmp_path).stdout
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
