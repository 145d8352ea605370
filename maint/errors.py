"""The one error root: every error maint raises on purpose derives from ``MaintError``.

Its message says what went wrong and what to do, so a command shows it as one line and exits
(``maint.output.cli_errors`` catches this one type) instead of printing a traceback.
"""

from __future__ import annotations


class MaintError(Exception):
    """An error whose message is meant for the person running maint."""
