"""Retrieval: the document/chunk store (PostgreSQL + pgvector) and, later, the retrievers."""
