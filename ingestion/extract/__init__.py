"""Deterministic, offline fact extraction from a manual's blocks: no model, no network, the
same facts for the same file every time.

Each kind of fact has its own reader (``parts``, ``values``, ``notices``, ``procedures``,
``intervals``, ``equipment``): ``read`` runs them over the blocks into an ``Extraction``
of plain records (what tests compare with hand-checked lists), and ``extract`` writes those
as graph nodes and edges, each tied to the chunks it was read from. A new manual style is a
new reader, or a new header pattern in one.

Graph shape (docs/graph.md): Equipment -HAS_COMPONENT-> Component -HAS_PART-> Part;
Equipment -HAS_PART-> Part; Spec -APPLIES_TO-> Component|Equipment; Equipment -HAS_SPEC->
Spec; Equipment -HAS_PROCEDURE-> Procedure -HAS_STEP-> Step (-NEXT-> Step);
Procedure|Step -USES_PART-> Part; Step -USES_TOOL-> Tool; Procedure|Step|Equipment
-HAS_WARNING-> Warning; Equipment -HAS_INTERVAL-> Interval; Part -SUPERSEDED_BY-> Part.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ingestion.extract.builder import FactBuilder
from ingestion.extract.equipment import describe_end_items, read_end_items, write_equipment
from ingestion.extract.intervals import is_interval_table, read_intervals, write_interval
from ingestion.extract.notices import read_notices, write_notice
from ingestion.extract.parts import (
    FIGURE_CAPTION,
    component_name,
    is_parts_table,
    read_parts,
    write_parts,
)
from ingestion.extract.procedures import read_procedure, write_procedure
from ingestion.extract.records import Extraction
from ingestion.extract.supersessions import write_supersessions
from ingestion.extract.values import description_values, read_values, write_values
from maint.domain import Chunk, Facts, Node, ParsedDocument
from maint.identifiers import cued_part_numbers, identifier_keys, norm_part_number

__all__ = [
    "Extractor",
    "RuleExtractor",
    "component_name",
    "extract",
    "is_interval_table",
    "is_parts_table",
    "read",
]


class Extractor(Protocol):
    """Anything that turns a document's chunks into facts (an LLM extractor may come later)."""

    def extract(
        self,
        doc_id: str,
        title: str,
        chunks: list[Chunk],
        document: ParsedDocument | None = None,
    ) -> Facts: ...


def read(chunks: Iterable[Chunk]) -> Extraction:
    """Every fact the readers find in the chunks' blocks, in reading order."""
    ex = Extraction()
    figures: dict[str, str] = {}  # the last figure caption under each heading
    for chunk in chunks:
        for blk in chunk.blocks:
            heading = blk.section[-1] if blk.section else ""
            if blk.kind == "paragraph" and (caption := FIGURE_CAPTION.match(blk.text)):
                figures[heading] = caption.group(1)
            parts = read_parts(chunk, blk, figures.get(heading, ""))
            ex.parts += parts
            if parts:  # a parts list: values only in its descriptions ('Brush, 2 in. wide')
                ex.values += description_values(chunk, blk)
            elif not (blk.kind == "table" and is_parts_table(blk.rows)):
                ex.values += read_values(chunk, blk)
            ex.notices += read_notices(chunk, blk)
            ex.intervals += read_intervals(chunk, blk)
            if (proc := read_procedure(chunk, blk)) is not None:
                ex.procedures.append(proc)
                ex.notices += [n for _, n in proc.notices]
    return ex


class RuleExtractor:
    """Reads the conventions of manuals; see the module docstring for the graph shape."""

    def extract(
        self,
        doc_id: str,
        title: str,
        chunks: list[Chunk],
        document: ParsedDocument | None = None,
    ) -> Facts:
        chunks = list(chunks)
        b = FactBuilder(doc_id)
        ex = read(chunks)
        equipment = write_equipment(b, title, document, chunks[0].id if chunks else None)
        describe_end_items(
            b, equipment, [i for c in chunks for k in c.blocks for i in read_end_items(c, k)]
        )
        known = {}
        for eq in equipment:
            known = write_parts(b, eq, ex.parts)
        for chunk in chunks:  # part numbers named after a cue ('P/N WP-2207-B')
            for blk in chunk.blocks:
                for pn in cued_part_numbers(blk.text):
                    node = b.node("Part", norm_part_number(pn), chunk.id, part_number=pn)
                    known.setdefault(pn, node)
        _link_mentions(chunks, known)
        components = sorted(
            (n for n in b.nodes.values() if n.label == "Component"),
            key=lambda n: -len(n.props["name"]),
        )
        write_values(b, equipment, components, ex.values)
        for iv in ex.intervals:
            write_interval(b, equipment, iv)
        by_section: dict[tuple[str, ...], list[Node]] = {}
        for ordinal, proc in enumerate(ex.procedures, start=1):
            node = write_procedure(b, equipment, known, proc, ordinal)
            by_section.setdefault(proc.section, []).append(node)
        in_procedures = {id(n) for p in ex.procedures for _, n in p.notices}
        for notice in ex.notices:
            if id(notice) in in_procedures:
                continue
            w = write_notice(b, notice)
            if notice.level == "NOTE":
                continue
            for proc in by_section.get(notice.section) or equipment:
                b.edge("HAS_WARNING", proc, w)
        for chunk in chunks:
            for blk in chunk.blocks:
                write_supersessions(b, chunk.id, blk.text)
        return b.facts()


def _link_mentions(chunks: list[Chunk], known: dict[str, Node]) -> None:
    """A known part number anywhere in a chunk makes the part point at that chunk."""
    if not known:  # reading every code of a manual without a parts list finds nothing
        return
    for chunk in chunks:
        named = set().union(*(identifier_keys(blk.text) for blk in chunk.blocks))
        for part in known.values():
            if chunk.id not in part.chunk_ids and part.key in named:
                part.chunk_ids.append(chunk.id)


def extract(
    doc_id: str, title: str, chunks: Iterable[Chunk], document: ParsedDocument | None = None
) -> Facts:
    return RuleExtractor().extract(doc_id, title, list(chunks), document)
