"""Evaluation: RAGAS and domain metrics (next issues)."""
