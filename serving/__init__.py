"""Serving: the answering core (``serving.answering``) and the two ways it is delivered,
``maint ask`` (``serving.cli``) and the HTTP API (``serving.api``), thin layers on top."""
