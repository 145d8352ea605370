"""Retrieval: the chunk store (``store``, in PostgreSQL + pgvector: ``pgstore``) and the
retrievers over it and the graph (vector, keyword, graph facts), fused by ``hybrid``."""
