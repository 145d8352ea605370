"""Collects nodes and edges for one document, merging repeats by key (one node per key)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from maint.domain import Edge, Facts, Node


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


@dataclass
class FactBuilder:
    doc_id: str
    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, str, str, str], Edge] = field(default_factory=dict)

    def node(self, label: str, key: str, chunk_id: str | None, **props) -> Node:
        """The node for (label, key); a property already set keeps its first value."""
        n = self.nodes.get((label, key))
        if n is None:
            n = self.nodes[(label, key)] = Node(label=label, key=key)
        for k, v in props.items():
            if v not in (None, "", []) and k not in n.props:
                n.props[k] = v
        if chunk_id and chunk_id not in n.chunk_ids:
            n.chunk_ids.append(chunk_id)
        return n

    def add_to_list(self, node: Node, prop: str, value: str | None) -> None:
        """Per-row usage of a shared node ('fig 1 item 3'), kept as a list without repeats."""
        if not value:
            return
        values = node.props.setdefault(prop, [])
        if isinstance(values, list) and value not in values:
            values.append(value)

    def edge(self, rel: str, src: Node, dst: Node, **props) -> None:
        key = (rel, src.label, src.key, dst.label, dst.key)
        if key not in self.edges:
            self.edges[key] = Edge(
                type=rel,
                src_label=src.label,
                src_key=src.key,
                dst_label=dst.label,
                dst_key=dst.key,
                props={k: v for k, v in props.items() if v not in (None, "")},
            )

    def facts(self) -> Facts:
        return Facts(nodes=list(self.nodes.values()), edges=list(self.edges.values()))
