"""Maintenance intervals: interval tables ('Task | Interval'), PMCS tables whose interval
column marks when a check is done (B, D, A, W, M; 'Before / After'), and lubrication
intervals written in prose ('Recommended lubrication is every 3 months')."""

from __future__ import annotations

import re

from ingestion.extract.builder import FactBuilder, digest
from ingestion.extract.records import Interval
from ingestion.extract.tables import cell, column
from maint.domain import Block, Chunk, Node

_HOURS = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(?:h\b|hours|operating hours)", re.I)
_MONTHS = re.compile(r"(\d+)\s*months?", re.I)
# 'Recommended lubrication is every 3 months, or as required.': a sentence that only states
# how often; what is done is the sentence before it ('Lubricate components using …').
_PROSE = re.compile(
    r"^(?:(?:the\s+)?recommended\s+)?(?:lubrication|servicing|service|inspection)\s+"
    r"(?:interval\s+)?(?:is|should be (?:done|performed))\s+"
    r"(?P<interval>(?:every|each|once (?:a|each))\s+(?:\d+\s+)?"
    r"(?:hours?|days?|weeks?|months?|years?|miles)\b(?:,? or as required)?)",
    re.I,
)


# '… shelters located at X shall be inspected by site personnel at least once every week'
_SHALL_BE = re.compile(
    r"(?P<subject>[^.;]+?)\s+(?:shall|must|should|will|are to) be\s+"
    r"(?P<verb>inspected|lubricated|serviced|checked|cleaned|replaced|tested)\b"
    r"(?:\s+by\s+[\w\s]+?)?\s+(?P<interval>(?:at least\s+)?(?:once\s+)?(?:every|each)\s+"
    r"(?:\d+\s+)?(?:hours?|days?|weeks?|months?|years?|miles)\b)",
    re.I,
)
_CONNECTIVE = re.compile(r"^(?:however|also|in addition|therefore|thus),?\s+", re.I)
# A remark with its interval in brackets: 'Lubrication Required for … (Annually)'.
_BRACKETED = re.compile(
    r"^(?P<task>.+?)\s*\((?P<interval>annually|semiannually|semi-annually|quarterly|monthly|"
    r"weekly|daily|yearly|biennially)\)\s*$",
    re.I,
)
# The PMCS legend: 'Before You Operate. … Perform your before (B) PMCS.'
_PMCS_LEGEND = re.compile(r"perform your \w+ \([A-Z]\) PMCS", re.I)
_LETTER_HEAD = re.compile(r"^[a-z]\s?\.\s+")


def _base_verb(verb: str) -> str:
    """'inspected' -> 'inspect', 'lubricated' -> 'lubricate', 'serviced' -> 'service'."""
    verb = verb.lower()
    return verb[:-1] if re.search(r"(?:at|ic|ac|ac)ed$", verb) else verb[:-2]


def is_interval_table(rows: list[list[str]]) -> bool:
    return bool(rows) and column(rows[0], r"interval|frequency") is not None


def read_intervals(chunk: Chunk, blk: Block) -> list[Interval]:
    if blk.kind == "table" and is_interval_table(blk.rows):
        return _table(chunk, blk)
    if blk.kind == "table":
        return [
            Interval(blk.page_start, chunk.id, m.group("task"), m.group("interval"))
            for row in blk.rows
            for c in row
            if (m := _BRACKETED.match(c.strip()))
        ]
    if blk.kind == "paragraph":
        return _prose(chunk, blk) + _shall_be(chunk, blk) + _pmcs_legend(chunk, blk)
    return []


def _shall_be(chunk: Chunk, blk: Block) -> list[Interval]:
    out = []
    for m in _SHALL_BE.finditer(blk.text):
        subject = _CONNECTIVE.sub("", m.group("subject").split(". ")[-1].strip())
        if re.search(r"\b(?:and|or)$", subject):
            continue  # 'X wears gradually and must be inspected': no plain subject to name
        task = f"{_base_verb(m.group('verb'))} {subject}"
        out.append(Interval(blk.page_start, chunk.id, task, m.group("interval")))
    return out


def _pmcs_legend(chunk: Chunk, blk: Block) -> list[Interval]:
    """'Perform your weekly (W) PMCS' under the heading or run-in head that names when."""
    m = _PMCS_LEGEND.search(blk.text)
    if not m:
        return []
    run_in = blk.text.split(". ", 1)[0] if m.start() > 0 else ""
    when = run_in if run_in and len(run_in.split()) <= 5 else (blk.title or "")
    when = _LETTER_HEAD.sub("", when).strip().rstrip(".")
    task = m.group(0)[0].upper() + m.group(0)[1:]
    return [Interval(blk.page_start, chunk.id, task, when)] if when else []


def _table(chunk: Chunk, blk: Block) -> list[Interval]:
    header = blk.rows[0]
    c_int = column(header, r"interval|frequency")
    c_item = column(header, r"^item\s*(?:no\.?|number)?$")
    c_task = column(header, r"item to be|task|check|service|component|what", exclude="interval")
    out = []
    for row in blk.rows[1:]:
        interval = cell(row, c_int)
        task = cell(row, c_task) if c_task is not None else (row[0].strip() if row else "")
        if c_task == c_int or not task:
            task = row[0].strip() if row else ""
        if not task or not interval:
            continue
        item = cell(row, c_item)
        if item and c_item != c_task:
            task = f"item {item}: {task}"
        out.append(Interval(blk.page_start, chunk.id, task, interval))
    return out


def _prose(chunk: Chunk, blk: Block) -> list[Interval]:
    out = []
    sentences = re.split(r"(?<=\.)\s+", blk.text)
    for k, sentence in enumerate(sentences[1:], start=1):
        if m := _PROSE.match(sentence):
            task = sentences[k - 1].rstrip(".")
            out.append(Interval(blk.page_start, chunk.id, task, m.group("interval")))
    return out


def write_interval(b: FactBuilder, equipment: list[Node], iv: Interval) -> None:
    hours = _HOURS.search(iv.interval)
    months = _MONTHS.search(iv.interval)
    node = b.node(
        "Interval",
        f"{b.doc_id}/interval/{digest(iv.task + '|' + iv.interval)}",
        iv.chunk_id,
        task=iv.task,
        interval=iv.interval,
        hours=float(hours.group(1).replace(",", "")) if hours else None,
        months=float(months.group(1)) if months else None,
        page=iv.page,
    )
    for eq in equipment:
        b.edge("HAS_INTERVAL", eq, node)
