"""The HTTP API: FastAPI app, OpenAI-compatible chat, structured queries, operations."""
