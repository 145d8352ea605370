"""Deterministic, offline fact extraction from structured blocks.

Manuals follow conventions (parts lists with a Part No. column, torque and spec tables,
numbered procedures, signal words), and the extractor reads those: no model, no network, the
same facts for the same file every time. Every node records the chunks it was read from.

Graph shape (see docs/graph.md): Equipment -HAS_COMPONENT-> Component -HAS_PART-> Part;
Equipment -HAS_PART-> Part; Spec -APPLIES_TO-> Component|Equipment; Equipment -HAS_SPEC->
Spec; Equipment -HAS_PROCEDURE-> Procedure -HAS_STEP-> Step (-NEXT-> Step);
Procedure|Step -USES_PART-> Part; Step -USES_TOOL-> Tool; Procedure|Step|Equipment
-HAS_WARNING-> Warning; Equipment -HAS_INTERVAL-> Interval; Part -SUPERSEDED_BY-> Part.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ingestion.chunker import SIGNAL, heading_title
from maint.domain import Block, Chunk, Edge, Facts, Node
from maint.identifiers import (
    MODEL_NAME,
    cued_part_numbers,
    identifier_keys,
    looks_like_identifier,
    norm_part_number,
)
from maint.units import BARE_NUMBER, find_quantities, normalise, unit_of_header

_SUPERSEDED = re.compile(
    r"(?P<old>[A-Z0-9][A-Z0-9\-/. ]*[A-Z0-9]),?\s+(?:is|are|has been)\s+superseded\s+by\s+"
    r"(?:\w+\s+){0,3}?(?:P/N\s+)?(?P<new>[A-Z0-9][A-Z0-9\-/.]*[A-Z0-9])"
)
_TOOLS = (
    "torque wrench",
    "strap wrench",
    "pipe wrench",
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
)
_TOOL_RE = re.compile(r"\b(" + "|".join(re.escape(t) for t in _TOOLS) + r")s?\b", re.I)
_HOURS = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)\s*(?:h\b|hours|operating hours)", re.I)
_MONTHS = re.compile(r"(\d+)\s*months?", re.I)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


# -- tables --------------------------------------------------------------------------------
def _col(header: list[str], pattern: str) -> int | None:
    rx = re.compile(pattern, re.I)
    return next((i for i, h in enumerate(header) if rx.search(h)), None)


def is_parts_table(rows: list[list[str]]) -> bool:
    return bool(rows) and _col(rows[0], r"^\s*(part\s*(no\.?|number|#)|p/n)\s*$") is not None


def is_interval_table(rows: list[list[str]]) -> bool:
    return bool(rows) and _col(rows[0], r"interval|frequency") is not None


def component_name(description: str) -> str:
    """Parts-list descriptions read 'Nut, impeller, M24 x 2': the component is 'impeller nut'."""
    segs = [s.strip() for s in re.split(r",", re.sub(r"\(.*?\)", "", description)) if s.strip()]
    if not segs:
        return description.strip().lower()
    head = segs[0]
    if len(segs) > 1 and not re.search(r"\d", segs[1]) and len(segs[1].split()) <= 2:
        head = f"{segs[1]} {head}"
    return head.lower()


# -- extraction ----------------------------------------------------------------------------
class Extractor(Protocol):
    """Anything that turns a document's chunks into facts (an LLM extractor may come later)."""

    def extract(self, doc_id: str, title: str, chunks: list[Chunk]) -> Facts: ...


@dataclass
class _Builder:
    doc_id: str
    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, str, str, str], Edge] = field(default_factory=dict)

    def node(self, label: str, key: str, chunk_id: str | None, **props) -> Node:
        n = self.nodes.get((label, key))
        if n is None:
            n = self.nodes[(label, key)] = Node(label=label, key=key)
        for k, v in props.items():
            if v not in (None, "") and k not in n.props:
                n.props[k] = v
        if chunk_id and chunk_id not in n.chunk_ids:
            n.chunk_ids.append(chunk_id)
        return n

    def edge(self, rel: str, src: Node, dst: Node, **props) -> None:
        key = (rel, src.label, src.key, dst.label, dst.key)
        if key not in self.edges:
            self.edges[key] = Edge(
                type=rel,
                src_label=src.label,
                src_key=src.key,
                dst_label=dst.label,
                dst_key=dst.key,
                props={k: v for k, v in props.items() if v is not None},
            )

    def facts(self) -> Facts:
        return Facts(nodes=list(self.nodes.values()), edges=list(self.edges.values()))


class RuleExtractor:
    """Reads the conventions of OEM manuals; see the module docstring for the graph shape."""

    def extract(self, doc_id: str, title: str, chunks: list[Chunk]) -> Facts:
        b = _Builder(doc_id)
        first_chunk = chunks[0].id if chunks else None
        model = MODEL_NAME.search(title)
        eq_name = model.group(1) if model else title
        equipment = b.node(
            "Equipment",
            norm_part_number(eq_name) if model else _slug(title),
            first_chunk,
            name=eq_name,
            title=title,
        )
        pairs = [(c, blk) for c in chunks for blk in c.blocks]
        # Pass 1: the parts lists and cued part numbers, so later passes can link mentions.
        for chunk, blk in pairs:
            if blk.kind == "table" and is_parts_table(blk.rows):
                self._parts_table(b, equipment, chunk, blk)
        for chunk, blk in pairs:
            for pn in cued_part_numbers(blk.text):
                b.node("Part", norm_part_number(pn), chunk.id, part_number=pn)
        known = {n.props["part_number"]: n for n in b.nodes.values() if n.label == "Part"}
        components = sorted(
            (n for n in b.nodes.values() if n.label == "Component"),
            key=lambda n: -len(n.props["name"]),
        )
        # Pass 2: everything else.
        procedures_by_section: dict[tuple[str, ...], list[Node]] = {}
        section_warnings: list[tuple[tuple[str, ...], Node]] = []
        for counter, (chunk, blk) in enumerate(pairs, start=1):
            section = tuple(blk.section)
            self._link_mentions(chunk, blk, known)
            if blk.kind == "table" and is_interval_table(blk.rows):
                self._interval_table(b, equipment, chunk, blk)
            elif blk.kind == "table" and not is_parts_table(blk.rows):
                self._spec_table(b, equipment, components, chunk, blk)
            elif blk.kind == "procedure":
                proc = self._procedure(b, equipment, components, known, chunk, blk, counter)
                procedures_by_section.setdefault(section, []).append(proc)
            elif blk.kind == "warning":
                warning = self._warning(b, chunk, blk.level or "WARNING", blk.text)
                section_warnings.append((section, warning))
        for section, warning in section_warnings:
            procs = procedures_by_section.get(section)
            for proc in procs or []:
                b.edge("HAS_WARNING", proc, warning)
            if not procs:
                b.edge("HAS_WARNING", equipment, warning)
        for chunk, blk in pairs:
            self._supersessions(b, chunk, blk.text)
        return b.facts()

    # -- pieces ------------------------------------------------------------------------
    def _parts_table(self, b: _Builder, equipment: Node, chunk: Chunk, blk: Block) -> None:
        header = blk.rows[0]
        c_pn = _col(header, r"^\s*(part\s*(no\.?|number|#)|p/n)\s*$")
        c_nsn = _col(header, r"stock|nsn")
        c_mfr = _col(header, r"mfr|cage|manufacturer")
        c_desc = _col(header, r"description|nomenclature|name")
        c_item = _col(header, r"^\s*item")
        c_qty = _col(header, r"qty|quantity")

        def cell(row: list[str], i: int | None) -> str | None:
            if i is None or i >= len(row):
                return None
            value = row[i].strip()
            return None if value in ("", "—", "-", "–", "n/a") else value

        for row in blk.rows[1:]:
            pn = cell(row, c_pn)
            if not pn or not looks_like_identifier(pn, cued=True):
                continue
            desc = cell(row, c_desc)
            part = b.node(
                "Part",
                norm_part_number(pn),
                chunk.id,
                part_number=pn,
                description=desc,
                nsn=cell(row, c_nsn),
                mfr_code=cell(row, c_mfr),
            )
            qty = cell(row, c_qty)
            b.edge("HAS_PART", equipment, part, item=cell(row, c_item), qty=qty)
            if desc:
                name = component_name(desc)
                comp = b.node(
                    "Component",
                    f"{equipment.key}/{_slug(name)}",
                    chunk.id,
                    name=name,
                    equipment=equipment.props.get("name"),
                )
                b.edge("HAS_COMPONENT", equipment, comp)
                b.edge("HAS_PART", comp, part, item=cell(row, c_item), qty=qty)

    def _spec(
        self,
        b: _Builder,
        equipment: Node,
        components: list[Node],
        chunk: Chunk,
        parameter: str,
        value: str,
        unit: str,
        text: str,
        condition: str | None = None,
    ) -> Node:
        q = normalise(value, unit)
        key = f"{b.doc_id}/spec/{_digest(f'{parameter}|{value}|{unit}|{condition}')}"
        spec = b.node(
            "Spec",
            key,
            chunk.id,
            parameter=parameter,
            value=q.value,
            unit=q.unit,
            value_si=q.value_si,
            unit_si=q.unit_si,
            condition=condition,
            text=text[:500],
        )
        target = next((c for c in components if c.props["name"] in parameter.lower()), equipment)
        b.edge("APPLIES_TO", spec, target)
        b.edge("HAS_SPEC", equipment, spec)
        return spec

    def _spec_table(
        self, b: _Builder, equipment: Node, components: list[Node], chunk: Chunk, blk: Block
    ) -> None:
        header = blk.rows[0]
        c_unit = _col(header, r"^\s*units?\s*$")
        c_cond = _col(header, r"condition|remark|note")
        for row in blk.rows[1:]:
            if not row or not row[0].strip():
                continue
            label = row[0].strip()
            condition = row[c_cond].strip() if c_cond is not None and c_cond < len(row) else None
            for i, cell in enumerate(row[1:], start=1):
                if i in (c_unit, c_cond):
                    continue
                found = find_quantities(cell)
                if not found and (m := BARE_NUMBER.match(cell)):
                    unit = (
                        row[c_unit].strip() if c_unit is not None and c_unit < len(row) else None
                    ) or unit_of_header(header[i] if i < len(header) else "")
                    if unit:
                        found = [(None, normalise(m.group("value"), unit))]
                for _, q in found:
                    self._spec(
                        b,
                        equipment,
                        components,
                        chunk,
                        label,
                        q.value,
                        q.unit,
                        " | ".join(row),
                        condition or None,
                    )

    def _interval_table(self, b: _Builder, equipment: Node, chunk: Chunk, blk: Block) -> None:
        header = blk.rows[0]
        c_int = _col(header, r"interval|frequency")
        for row in blk.rows[1:]:
            if not row or c_int is None or c_int >= len(row):
                continue
            task, interval = row[0].strip(), row[c_int].strip()
            if not task or not interval:
                continue
            hours = _HOURS.search(interval)
            months = _MONTHS.search(interval)
            node = b.node(
                "Interval",
                f"{b.doc_id}/interval/{_digest(task + '|' + interval)}",
                chunk.id,
                task=task,
                interval=interval,
                hours=float(hours.group(1).replace(",", "")) if hours else None,
                months=float(months.group(1)) if months else None,
            )
            b.edge("HAS_INTERVAL", equipment, node)

    def _warning(self, b: _Builder, chunk: Chunk, level: str, text: str) -> Node:
        body = SIGNAL.sub("", text, count=1).strip()
        return b.node(
            "Warning",
            f"{b.doc_id}/warning/{_digest(level + body)}",
            chunk.id,
            level=level,
            text=f"{level}: {body}",
        )

    def _procedure(
        self,
        b: _Builder,
        equipment: Node,
        components: list[Node],
        known: dict[str, Node],
        chunk: Chunk,
        blk: Block,
        ordinal: int,
    ) -> Node:
        title = blk.title or (heading_title(blk.section[-1]) if blk.section else "Procedure")
        proc = b.node(
            "Procedure",
            f"{b.doc_id}/procedure/{ordinal:04d}-{_slug(title)[:60]}",
            chunk.id,
            title=title,
            steps=len(blk.steps),
            section=" > ".join(blk.section),
        )
        b.edge("HAS_PROCEDURE", equipment, proc)
        prev: Node | None = None
        step_no = 0
        pending_warnings: list[Node] = []
        for line in blk.text.split("\n"):
            m = re.match(r"^(\d+)\.\s+(.*)$", line)
            if not m:
                signal = SIGNAL.match(line)
                if signal and signal.group(1).upper() in ("DANGER", "WARNING", "CAUTION"):
                    w = self._warning(b, chunk, signal.group(1).upper(), line)
                    b.edge("HAS_WARNING", proc, w)
                    pending_warnings.append(w)
                continue
            step_no += 1
            text = m.group(2)
            step = b.node(
                "Step",
                f"{proc.key}/{step_no:02d}",
                chunk.id,
                number=step_no,
                text=text,
                procedure=title,
            )
            b.edge("HAS_STEP", proc, step, order=step_no)
            if prev is not None:
                b.edge("NEXT", prev, step)
            for w in pending_warnings:  # a warning placed before a step applies to it
                b.edge("HAS_WARNING", step, w)
            pending_warnings = []
            named = identifier_keys(text)
            for part in known.values():
                if part.key in named:  # a part's key is its compacted number
                    b.edge("USES_PART", step, part)
                    b.edge("USES_PART", proc, part)
            for tool in {t.group(1).lower() for t in _TOOL_RE.finditer(text)}:
                tool_node = b.node("Tool", _slug(tool), chunk.id, name=tool)
                b.edge("USES_TOOL", step, tool_node)
            parameter = None
            previous_end = -10
            for m, q in find_quantities(text):
                # "95 N·m (70 lbf·ft)": the value in brackets restates the one before it.
                conversion = text[previous_end : m.start()].strip() == "("
                if not conversion or parameter is None:
                    parameter = _parameter_from_step(text, q.value)
                previous_end = m.end()
                self._spec(b, equipment, components, chunk, parameter, q.value, q.unit, text)
            prev = step
        return proc

    def _link_mentions(self, chunk: Chunk, blk: Block, known: dict[str, Node]) -> None:
        """A known part number anywhere in a chunk makes the part point at that chunk."""
        named = identifier_keys(blk.text)
        for part in known.values():
            if chunk.id not in part.chunk_ids and part.key in named:
                part.chunk_ids.append(chunk.id)

    def _supersessions(self, b: _Builder, chunk: Chunk, text: str) -> None:
        for m in _SUPERSEDED.finditer(text):
            old, new = m.group("old").split()[-1], m.group("new")
            if looks_like_identifier(old, cued=True) and looks_like_identifier(new, cued=True):
                o = b.node("Part", norm_part_number(old), chunk.id, part_number=old)
                n = b.node("Part", norm_part_number(new), chunk.id, part_number=new)
                b.edge("SUPERSEDED_BY", o, n)


_LEAD_VERBS = re.compile(
    r"^(?:and\s+)?(?:then\s+)?(?:tighten|torque|set|adjust|check|fill|heat|measure|refill|"
    r"top up|apply|turn|ensure|make sure)\b\s*(?:that\s+)?(?:the\s+)?",
    re.I,
)


def _parameter_from_step(step: str, value: str) -> str:
    """'Tighten the impeller nut to 95 N·m' -> 'impeller nut (tighten)'."""
    before = step.split(value, 1)[0]
    clause = re.split(r"[.;:,]\s", before)[-1].strip()
    verb = re.match(r"^(\w+)", clause)
    clause = re.sub(r"\s+(?:to|at|of|is|must be|by|with|up to|within)\s*$", "", clause)
    subject = _LEAD_VERBS.sub("", clause).strip() or clause
    words = subject.split()
    subject = " ".join(words[-8:])
    if verb and verb.group(1).lower() in ("tighten", "torque"):
        return f"{subject} torque"
    return subject or step[:60]


def extract(doc_id: str, title: str, chunks: Iterable[Chunk]) -> Facts:
    return RuleExtractor().extract(doc_id, title, list(chunks))
