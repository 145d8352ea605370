"""'WP-1143-A is superseded by WP-1143-B': Part -SUPERSEDED_BY-> Part."""

from __future__ import annotations

import re

from ingestion.extract.builder import FactBuilder
from maint.identifiers import looks_like_identifier, norm_part_number

_SUPERSEDED = re.compile(
    r"(?P<old>[A-Z0-9][A-Z0-9\-/. ]*[A-Z0-9]),?\s+(?:is|are|has been)\s+superseded\s+by\s+"
    r"(?:\w+\s+){0,3}?(?:P/N\s+)?(?P<new>[A-Z0-9][A-Z0-9\-/.]*[A-Z0-9])"
)


def write_supersessions(b: FactBuilder, chunk_id: str, text: str) -> None:
    for m in _SUPERSEDED.finditer(text):
        old, new = m.group("old").split()[-1], m.group("new")
        if looks_like_identifier(old, cued=True) and looks_like_identifier(new, cued=True):
            o = b.node("Part", norm_part_number(old), chunk_id, part_number=old)
            n = b.node("Part", norm_part_number(new), chunk_id, part_number=new)
            b.edge("SUPERSEDED_BY", o, n)
