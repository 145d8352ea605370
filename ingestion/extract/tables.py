"""Finding a table's columns by their header words (RPSTL, torque, PMCS tables)."""

from __future__ import annotations

import re

_NUMBERING = re.compile(r"^\s*\(\w{1,2}\)\s*")  # RPSTL headers number columns: '(3) NSN'


def header_text(cell: str) -> str:
    return _NUMBERING.sub("", cell).strip()


def column(header: list[str], pattern: str, exclude: str | None = None) -> int | None:
    """Index of the first header cell matching ``pattern`` (case-insensitive)."""
    rx = re.compile(pattern, re.I)
    ex = re.compile(exclude, re.I) if exclude else None
    for i, h in enumerate(header):
        text = header_text(h)
        if rx.search(text) and not (ex and ex.search(text)):
            return i
    return None


def cell(row: list[str], i: int | None) -> str:
    if i is None or i >= len(row):
        return ""
    value = row[i].strip()
    return "" if value in ("—", "-", "–", "n/a") else value
