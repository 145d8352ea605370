"""The equipment a manual covers: from its title page (model and NSN, as the parser read
them), else a model named in the title ('P-200'), else the title itself."""

from __future__ import annotations

from ingestion.extract.builder import FactBuilder, slug
from maint.domain import Node, ParsedDocument
from maint.identifiers import MODEL_NAME, norm_nsn, norm_part_number


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
