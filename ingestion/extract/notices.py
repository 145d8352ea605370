"""WARNING, CAUTION, DANGER and NOTE blocks, each with its whole text.

The chunker makes a block of each signal-word paragraph; inside a procedure they stay as
lines between the steps. A NOTE is kept as a Warning node of level NOTE: it is read the
same way and answers the same questions ("what must I watch for here?").
"""

from __future__ import annotations

import re

from ingestion.chunker import SIGNAL
from ingestion.extract.builder import FactBuilder, digest
from ingestion.extract.records import Notice
from maint.domain import Block, Chunk, Node

LEVELS = ("DANGER", "WARNING", "CAUTION", "NOTE")
# A statement never runs into a new lettered paragraph ('… this manual. d. Indicates …'):
# where one follows a sentence, text from another column has been joined to it.
_NEXT_PARAGRAPH = re.compile(r"(?<=[.:])\s+[a-z]\.\s+[A-Z].*$")


def signal_level(line: str) -> str | None:
    """The signal word a line starts with, in capitals as manuals print it."""
    m = SIGNAL.match(line)
    if not m or not m.group(1).isupper():
        return None
    return m.group(1).upper()


def notice_from_line(line: str, page: int | None, chunk: Chunk, section) -> Notice | None:
    level = signal_level(line)
    if level is None:
        return None
    body = _NEXT_PARAGRAPH.sub("", SIGNAL.sub("", line, count=1)).strip()
    if len(body.split()) < 3:  # 'WARNING SUMMARY', 'NOTE below.)': a title or a reference
        return None
    return Notice(page, chunk.id, level, body, tuple(section)) if body else None


def read_notices(chunk: Chunk, blk: Block) -> list[Notice]:
    """Warning and note blocks (those inside procedures are read with the procedure)."""
    if blk.kind not in ("warning", "note"):
        return []
    found = notice_from_line(blk.text, blk.page_start, chunk, blk.section)
    return [found] if found else []


def write_notice(b: FactBuilder, notice: Notice) -> Node:
    return b.node(
        "Warning",
        f"{b.doc_id}/warning/{digest(notice.level + notice.text)}",
        notice.chunk_id,
        level=notice.level,
        text=f"{notice.level}: {notice.text}",
        page=notice.page,
    )
