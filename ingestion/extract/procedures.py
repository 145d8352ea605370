"""Procedures: numbered steps under a paragraph ('2-4e'), a work package task ('REMOVAL') or
a FRAME, in order, with the warnings and notes printed between them.

The title is the heading the steps sit under; where that heading is only a lettered
sub-paragraph ('e. Inspection and Repair'), the paragraph above it is put in front
('END HOUSING AND INSULATOR. Inspection and Repair'), as a technician names the task.
"""

from __future__ import annotations

import re

from ingestion.chunker import heading_title
from ingestion.extract.builder import FactBuilder, slug
from ingestion.extract.notices import notice_from_line, write_notice
from ingestion.extract.records import Procedure
from maint.domain import Block, Chunk, Node
from maint.identifiers import identifier_keys

_STEP = re.compile(r"^(\d+)\.\s+(.*)$")
_LETTERED = re.compile(r"^[a-z]\.\s+")
_PARAGRAPH_NUMBER = re.compile(r"^(?:\d+-\d+[a-z]?\.?|WP \d{4} \d{2}|\d+\.)\s+")
_TOOLS = (
    "torque wrench",
    "strap wrench",
    "pipe wrench",
    "socket wrench",
    "socket",
    "puller",
    "dial indicator",
    "feeler gauge",
    "inside micrometer",
    "micrometer",
    "induction heater",
    "hoist",
    "sling",
    "press tool",
    "jacking screws",
    "straightedge",
    "multimeter",
    "ohmmeter",
    "hydrometer",
    "insulation tester",
    "grease gun",
    "belt tension gauge",
    "infrared thermometer",
    "oil filter wrench",
    "filter wrench",
    "vacuum pump",
    "pressure gauge",
    "circlip pliers",
    "soft-faced mallet",
    "mallet",
    "screwdriver",
    "borescope",
    "stethoscope",
    "spring pressure checker",
    "lifting device",
)
TOOL_RE = re.compile(r"\b(" + "|".join(re.escape(t) for t in _TOOLS) + r")s?\b", re.I)


def procedure_title(blk: Block) -> str:
    title = blk.title or (heading_title(blk.section[-1]) if blk.section else "Procedure")
    if _LETTERED.match(title) and len(blk.section) >= 2:
        parent = _PARAGRAPH_NUMBER.sub("", blk.section[-2]).strip().rstrip(".")
        return f"{parent}. {_LETTERED.sub('', title)}"
    return title


def read_procedure(chunk: Chunk, blk: Block) -> Procedure | None:
    if blk.kind != "procedure" or not blk.steps:
        return None
    pages = blk.line_pages or [blk.page_start] * len(blk.text.split("\n"))
    proc = Procedure(
        page=None,
        chunk_id=chunk.id,
        title=procedure_title(blk),
        section=tuple(blk.section),
        steps=[],
        step_pages=[],
    )
    for line, page in zip(blk.text.split("\n"), pages, strict=False):
        if m := _STEP.match(line):
            proc.steps.append(m.group(2))
            proc.step_pages.append(page)
        elif notice := notice_from_line(line, page, chunk, blk.section):
            proc.notices.append((len(proc.steps) + 1, notice))
        elif proc.steps:  # a sub-step '(a) …' goes with its step
            proc.steps[-1] = f"{proc.steps[-1]} {line.strip()}"
    proc.page = proc.step_pages[0] if proc.step_pages else blk.page_start
    return proc


def write_procedure(
    b: FactBuilder, equipment: list[Node], known: dict[str, Node], proc: Procedure, ordinal: int
) -> Node:
    node = b.node(
        "Procedure",
        f"{b.doc_id}/procedure/{ordinal:04d}-{slug(proc.title)[:60]}",
        proc.chunk_id,
        title=proc.title,
        steps=len(proc.steps),
        section=" > ".join(proc.section),
        page=proc.page,
    )
    for eq in equipment:
        b.edge("HAS_PROCEDURE", eq, node)
    before: dict[int, list[Node]] = {}
    for n, notice in proc.notices:
        w = write_notice(b, notice)
        if notice.level != "NOTE":
            b.edge("HAS_WARNING", node, w)
        before.setdefault(n, []).append(w)
    prev: Node | None = None
    for number, text in enumerate(proc.steps, start=1):
        step = b.node(
            "Step",
            f"{node.key}/{number:02d}",
            proc.chunk_id,
            number=number,
            text=text,
            procedure=proc.title,
        )
        b.edge("HAS_STEP", node, step, order=number)
        if prev is not None:
            b.edge("NEXT", prev, step)
        for w in before.get(number, []):  # a warning printed before a step applies to it
            b.edge("HAS_WARNING", step, w)
        named = identifier_keys(text) if known else set()
        for part in known.values():
            if part.key in named:  # a part's key is its compacted number
                b.edge("USES_PART", step, part)
                b.edge("USES_PART", node, part)
        for tool in {t.group(1).lower() for t in TOOL_RE.finditer(text)}:
            b.edge("USES_TOOL", step, b.node("Tool", slug(tool), proc.chunk_id, name=tool))
        prev = step
    return node
