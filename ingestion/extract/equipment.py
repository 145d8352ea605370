"""The equipment a manual covers: from its title page (model and NSN, as the parser read
them), else a model named in the title ('P-200'), else the title itself; an end-item table
(an MWO's 'END ITEM TO BE MODIFIED') adds the stock numbers a cover does not print."""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.extract.builder import FactBuilder, slug
from ingestion.extract.tables import cell, column
from maint.domain import Block, Chunk, Node, ParsedDocument
from maint.identifiers import MODEL_NAME, norm_nsn, norm_part_number


@dataclass
class EndItem:
    model: str
    nsn: str
    name: str
    chunk_id: str
    row_after_stem: bool = False


def write_equipment(
    b: FactBuilder, title: str, document: ParsedDocument | None, chunk_id: str | None
) -> list[Node]:
    """Equipment nodes, the main one first; every fact of the manual hangs off each."""
    publication = document.publication if document else None
    out: list[Node] = []
    entries = document.equipment if document else []
    models = [e.model for e in entries]
    for eq in entries:
        # A model printed twice with two stock numbers ('S-250/G (SHIELDED)', '(UNSHIELDED)')
        # is two end items: each is named by its whole line.
        shared = eq.model and models.count(eq.model) > 1 and len({e.nsn for e in entries}) > 1
        key = norm_part_number(eq.name if shared else eq.model) if eq.model else slug(eq.name)
        node = b.node(
            "Equipment",
            key,
            chunk_id,
            name=eq.name if shared or not eq.model else eq.model,
            title=title,
            description=eq.name,
            nsn=norm_nsn(eq.nsn) if eq.nsn else None,
            publication=publication,
        )
        if node not in out:
            out.append(node)
    if out:
        return out
    model = MODEL_NAME.search(title)
    name = model.group(1) if model else title
    key = norm_part_number(name) if model else slug(title)
    return [b.node("Equipment", key, chunk_id, name=name, title=title, publication=publication)]


def read_end_items(chunk: Chunk, blk: Block) -> list[EndItem]:
    """An end-item table ('NOMENCLATURE | NSN | PART NO. | CAGEC | MODEL'): each model's
    stock number and name. A name printed over several lines comes as rows of name alone
    before the rows it begins ('Truck, Utility, Expanded' / 'Capacity, 4x4' / 'Shelter
    Carrier | 2320-01-412-0143 | … | M1113')."""
    if blk.kind != "table" or not blk.rows:
        return []
    header = blk.rows[0]
    c_model = column(header, r"^model$")
    c_nsn = column(header, r"\bnsn\b|stock")
    c_name = column(header, r"nomenclature|description|\bname\b")
    if c_model is None or c_nsn is None or c_name is None:
        return []
    out: list[EndItem] = []
    stem: list[str] = []
    for row in blk.rows[1:]:
        name, model = cell(row, c_name), cell(row, c_model)
        if name and not model and not any(cell(row, i) for i in (c_nsn,)):
            if out and out[-1].row_after_stem:  # a new stem after its rows
                stem = []
            stem.append(name)
            continue
        if model:
            full = ", ".join(filter(None, [" ".join(stem), name]))
            out.append(EndItem(model, cell(row, c_nsn), full, chunk.id, row_after_stem=True))
    return out


def describe_end_items(b: FactBuilder, equipment: list[Node], items: list[EndItem]) -> None:
    """Title-page equipment named by model only gets the end-item table's NSN and name."""
    by_key = {n.key: n for n in equipment}
    for item in items:
        node = by_key.get(norm_part_number(item.model))
        if node is None:
            continue
        if item.nsn and not node.props.get("nsn"):
            node.props["nsn"] = norm_nsn(item.nsn)
        if item.name:
            node.props["description"] = item.name
        if item.chunk_id not in node.chunk_ids:
            node.chunk_ids.append(item.chunk_id)
