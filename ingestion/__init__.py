"""Ingestion: manuals in (PDF, HTML, Markdown, text), chunks and facts out."""
