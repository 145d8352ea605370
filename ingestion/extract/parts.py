"""Parts-list rows: RPSTL (item, SMR, NSN, CAGE, part number, description, UOC, qty), the
older FSN lists, MWO kit lists and OEM parts tables, all found by their column headers.

A part is one node per part number across manuals (keyed by the compacted number); the
per-row usage (figure, item, qty, SMR, page) goes on the HAS_PART relation of the equipment
and, as lists, on the node.
"""

from __future__ import annotations

import re

from ingestion.extract.builder import FactBuilder, slug
from ingestion.extract.records import PartRow
from ingestion.extract.tables import cell, column, header_text
from maint.domain import Block, Chunk, Node
from maint.identifiers import norm_nsn, norm_part_number

PART_NUMBER_HEADER = r"^(?:part\s*(?:no\.?|number|#)|p/n|reference\s*(?:no\.?|number))$"
# A code of the Uniform Source, Maintenance and Recoverability system: 'PAOZZ', 'XBFZZ'.
SMR = re.compile(r"^[A-Z]{4,6}$")
# Usable-on codes: 'A', 'D,E,F', 'BAA'.
_UOC = re.compile(r"^[A-Z0-9]{1,3}(?:\s?,\s?[A-Z0-9]{1,3})*$")
# 'PARTS KIT,ENGINE GENERATOR: COMPOSED OF:' introduces the kit's breakdown rows.
_COMPOSED_OF = re.compile(r"\s*COMPOSED OF:?\s*$", re.I)
# A running foot the parser left in the last cell: '1 TM 9-2920-225-34P'.
_TRAILING_PUBLICATION = re.compile(r"\s+(?:TM|MWO|TB|TO|SB)\s+[\dA-Z&-]+(?:\s.*)?$")
# A figure caption above an RPSTL table: 'Figure 1. Group 00 CBC'.
FIGURE_CAPTION = re.compile(r"^(?:Figure|FIGURE|Fig\.)\s+(\d+[A-Z]?)\.?\s")
_HEADER_WORDS = re.compile(r"^(?:no\.?|code|number|item|fig\.?|qty|cont(?:inued)?\.?)$", re.I)


# Lists of components of end item, basic issue items and expendables print one column
# 'DESCRIPTION, CAGEC, AND PART NUMBER': 'KIT INSTALLATION HARDWARE (…) (51489) 104244'.
COMBINED_HEADER = r"(?:description|item name).*(?:part\s*number|cage|fscm)"
_COMBINED_CELL = re.compile(
    r"^(?P<desc>.+?)\s*\((?P<cage>[0-9A-Z]{5})\)\s*(?:P/N\s*)?"
    r"(?P<pn>[A-Z0-9][\w./-]*(?: [\w./-]+)?)$"
)


_LEADING_NSN = re.compile(r"^(\d{4}-\d{2}-\d{3}-\d{4}|\d{4}-\d{3}-\d{4})\s+")


def is_parts_table(rows: list[list[str]]) -> bool:
    return bool(rows) and (
        column(rows[0], PART_NUMBER_HEADER) is not None
        or column(rows[0], COMBINED_HEADER) is not None
    )


class _Columns:
    def __init__(self, header: list[str], rows: list[list[str]]):
        self.pn = column(header, PART_NUMBER_HEADER)
        self.combined = column(header, COMBINED_HEADER) if self.pn is None else None
        self.figure = column(header, r"\bfig")
        self.item = column(header, r"^item\b", exclude=r"check|inspect|servic")
        self.smr = column(header, r"\bsmr\b|source")
        self.nsn = column(header, r"stock|\bnsn\b|\bfsn\b|\bniin\b")
        self.cage = column(header, r"cage|fscm|\bmfr\b|manufacturer")
        self.desc = column(header, r"description|nomenclature|\bname\b")
        if self.combined is not None:
            self.desc = self.cage = None
        self.uoc = column(header, r"usable|\buoc\b", exclude=r"description")
        self.qty = column(header, r"\bqty\b|quantity")
        if self.uoc is None and self.desc is not None:
            self.uoc = self._unnamed_code_column(header, rows)

    def _unnamed_code_column(self, header: list[str], rows: list[list[str]]) -> int | None:
        """An RPSTL page whose header lost the 'usable on' words: the unnamed column after
        the description whose cells are all usable-on codes."""
        i = (self.desc or 0) + 1
        if i >= len(header) or header_text(header[i]):
            return None
        values = [r[i].strip() for r in rows if i < len(r) and r[i].strip()]
        return i if values and all(_UOC.match(v) for v in values) else None


def _is_part_number(text: str) -> bool:
    compact = norm_part_number(text)
    return len(compact) >= 3 and not _HEADER_WORDS.match(text.strip())


def _merge_wrapped(c: _Columns, body: list[list[str]]) -> list[list[str]]:
    """A row printed on two lines comes as two rows: the second has no part number, item or
    description, only the cells the first left empty (usable-on code, qty)."""
    keys = [i for i in (c.pn, c.item, c.figure, c.desc, c.smr, c.nsn) if i is not None]
    out: list[list[str]] = []
    for row in body:
        filled = [i for i, v in enumerate(row) if v.strip()]
        prev = out[-1] if out else None
        if (
            prev is not None
            and filled
            and not any(row[i].strip() for i in keys if i < len(row))
            and cell(prev, c.pn)
            and all(i < len(prev) and not prev[i].strip() for i in filled)
        ):
            out[-1] = [p or (row[i] if i < len(row) else "") for i, p in enumerate(prev)]
            continue
        out.append(list(row))
    return out


def read_parts(chunk: Chunk, blk: Block, figure: str = "") -> list[PartRow]:
    """The rows of one parts-list table that carry a part number and some other code;
    ``figure`` is the caption's number, for RPSTL pages that have no figure column."""
    if blk.kind != "table" or not is_parts_table(blk.rows):
        return []
    header, body = blk.rows[0], blk.rows[1:]
    c = _Columns(header, body)
    if c.figure is not None or c.smr is None:
        figure = ""
    out = []
    for row in _merge_wrapped(c, body):
        pn, desc, cage = cell(row, c.pn), cell(row, c.desc), cell(row, c.cage)
        nsn = cell(row, c.nsn)
        if c.combined is not None and (m := _COMBINED_CELL.match(cell(row, c.combined))):
            pn, desc, cage = m.group("pn"), m.group("desc"), m.group("cage")
            if c.nsn == c.combined:  # the stock number printed in the same cell, first
                lead = _LEADING_NSN.match(desc)
                nsn, desc = (lead.group(1), desc[lead.end() :]) if lead else ("", desc)
        if not pn or not _is_part_number(pn):
            continue
        part = PartRow(
            page=blk.page_start,
            chunk_id=chunk.id,
            part_number=pn,
            description=_COMPOSED_OF.sub("", desc),
            figure=cell(row, c.figure) or figure,
            item=cell(row, c.item),
            smr=cell(row, c.smr),
            nsn="" if nsn.upper() == "N/A" else nsn,
            cage=cage,
            usable_on=cell(row, c.uoc),
            qty=_TRAILING_PUBLICATION.sub("", cell(row, c.qty)),
        )
        if part.smr and not SMR.match(part.smr):
            continue  # a wrapped header or a heading row in the code column
        if part.smr or part.nsn or part.cage or part.qty or part.description:
            out.append(part)
    return out


def component_name(description: str) -> str:
    """Parts-list descriptions read 'Nut, impeller, M24 x 2': the component is 'impeller nut'."""
    description = re.sub(r"^[.\s]+", "", description)  # RPSTL indenture dots: '. RING, SS'
    segs = [s.strip() for s in re.split(r",", re.sub(r"\(.*?\)", "", description)) if s.strip()]
    if not segs:
        return description.strip().rstrip(":").lower()
    head = segs[0]
    if len(segs) > 1 and not re.search(r"\d", segs[1]) and len(segs[1].split()) <= 2:
        head = f"{segs[1]} {head}"
    return head.rstrip(":.").strip().lower()


def clean_description(description: str) -> str:
    """'. RING, SS' -> 'RING, SS'; 'PACKING,PREFORMED:' -> 'PACKING,PREFORMED'."""
    return re.sub(r"^[.\s]+", "", description).rstrip(": ").strip()


def write_parts(b: FactBuilder, equipment: Node, rows: list[PartRow]) -> dict[str, Node]:
    """Part (and Component) nodes for parts-list rows; returns the parts by printed number."""
    known: dict[str, Node] = {}
    for row in rows:
        desc = clean_description(row.description)
        nsn = norm_nsn(row.nsn) if row.nsn else None
        part = b.node(
            "Part",
            norm_part_number(row.part_number),
            row.chunk_id,
            part_number=row.part_number,
            description=desc or None,
            nsn=nsn or (row.nsn or None),
            mfr_code=row.cage or None,
            smr=row.smr or None,
        )
        if row.nsn and nsn and row.nsn != nsn:
            b.add_to_list(part, "nsn_printed", row.nsn)
        usage = (
            " ".join(f"{k} {v}" for k, v in (("fig", row.figure), ("item", row.item)) if v) or None
        )
        b.add_to_list(part, "usage", usage)
        where = dict(
            item=row.item or None,
            qty=row.qty or None,
            figure=row.figure or None,
            smr=row.smr or None,
            usable_on=row.usable_on or None,
            page=row.page,
        )
        b.edge("HAS_PART", equipment, part, **where)
        known[row.part_number] = part
        if desc:
            name = component_name(desc)
            comp = b.node(
                "Component",
                f"{equipment.key}/{slug(name)}",
                row.chunk_id,
                name=name,
                equipment=equipment.props.get("name"),
            )
            b.edge("HAS_COMPONENT", equipment, comp)
            b.edge("HAS_PART", comp, part, **where)
    return known
