"""``make bench``'s last step: issue 18's figures, each beside its baseline from the same run."""

from __future__ import annotations

import json

from benchmarks.summary import summarise


def _write(folder, name, payload) -> None:
    (folder / f"{name}.json").write_text(json.dumps(payload))


def test_each_figure_is_given_beside_its_baseline_and_target(tmp_path):
    _write(
        tmp_path,
        "ingest",
        {
            "at": "T1",
            "targets": {"real_pages_per_s": 20.0},
            "results": [
                {"corpus": "real", "config": "default", "pages": 580, "pages_per_s": 10.0},
                {"corpus": "real", "config": "baseline", "pages": 580, "pages_per_s": 4.0},
                {"corpus": "sample", "config": "default", "pages": 104, "pages_per_s": 3.0},
            ],
        },
    )
    retrieval = {
        "questions": 161,
        "fused_total": {"p50_ms": 30.0, "p95_ms": 45.0},
        "baseline_total": {"p50_ms": 60.0, "p95_ms": 90.0},
    }
    _write(
        tmp_path,
        "query",
        {
            "at": "T2",
            "targets": {
                "fused_p95_ms_at_100000": {"target": 50.0},
                "fused_p95_ms_at_1000000": {"target": 150.0},
            },
            "scales": [
                {"size": 100_000, "retrieval": retrieval},
                {
                    "size": 1_000_000,
                    "retrieval": {**retrieval, "fused_total": {"p50_ms": 90.0, "p95_ms": 160.0}},
                },
            ],
        },
    )
    rows, missing = summarise(tmp_path)
    by = {r["figure"]: r for r in rows}
    real = by["ingestion, the five real manuals (580 pages)"]
    assert (real["shipped"], real["baseline"], real["gain_vs_baseline"]) == (10.0, 4.0, 2.5)
    assert real["target"] == 20.0 and real["met"] is False and real["run"] == "ingest T1"
    sample = by["ingestion, the sample corpus (104 pages)"]
    assert sample["baseline"] is None and sample["met"] is None  # no baseline, no target
    p95 = by["fused retrieval p95 at 100,000 chunks"]
    assert (p95["gain_vs_baseline"], p95["target"], p95["met"]) == (2.0, 50.0, True)
    assert by["fused retrieval p95 at 1,000,000 chunks"]["met"] is False  # 160 ms, target 150
    assert by["fused retrieval p50 at 100,000 chunks"]["target"] is None
    assert missing == ["memory: not run (python benchmarks/memory.py writes memory.json)"]


def test_memory_rows_and_an_unreadable_report(tmp_path):
    _write(
        tmp_path,
        "memory",
        {
            "at": "T3",
            "ingest": {"peak_rss_mb": 700, "baseline_peak_rss_mb": 1600, "target_mb": 2048},
            "serve": {"peak_rss_mb": 2100, "target_mb": 2048},
            "train": [
                {"variant": "baseline", "peak_rss_mb": 9000, "tokens_per_s": 80.0},
                {
                    "variant": "configured",
                    "peak_rss_mb": 2200,
                    "target_mb": 4096,
                    "tokens_per_s": 40.0,
                    "peak_batch": "16 x 128 tokens",
                },
            ],
        },
    )
    (tmp_path / "ingest.json").write_text("{not json")
    rows, missing = summarise(tmp_path)
    by = {r["figure"]: r for r in rows}
    assert by["peak RSS, maint ingest"]["met"] is True
    assert by["peak RSS, maint ingest"]["gain_vs_baseline"] == 2.29
    assert (
        by["peak RSS, maint serve"]["met"] is False
        and by["peak RSS, maint serve"]["baseline"] is None
    )
    assert by["peak RSS, the demo's training step"]["baseline"] == 9000
    assert by["training speed, the demo's step"]["gain_vs_baseline"] == 0.5
    assert any(m.startswith("ingest:") and "unreadable" in m for m in missing)
    assert any(m.startswith("query: not run") for m in missing)
