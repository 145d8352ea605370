"""The RAGAS summary: valid scores averaged, failures and not-applicable ones counted."""

from __future__ import annotations

from eval.ragas_metrics import RagasResult


def test_summary_averages_valid_scores_only():
    result = RagasResult(
        per_sample=[{"m": 1.0}, {"m": None}, {"m": 0.5}, {"m": None}],
        failures={"m": 1},
        not_applicable={"m": 1},
        seconds=0.1,
        metrics=("m",),
    )
    assert result.summary() == {"m": {"mean": 0.75, "valid": 2, "failed": 1, "not_applicable": 1}}
