"""Evaluation: every question of a set answered in each mode and scored (domain metrics,
RAGAS), retrieval measured against baselines, and a report written."""
