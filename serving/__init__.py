"""Serving: the OpenAI-compatible chat API (next issues)."""
