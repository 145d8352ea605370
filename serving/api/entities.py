"""Graph inspection: search entities, and an entity with its neighbours.

An entity is a fact node (equipment, component, part, tool, spec, procedure, step, warning,
interval), named ``<Label>:<key>`` (``Part:WP2207A``, ``Component:P200/impeller-nut``).
Search matches names, part numbers, titles, descriptions and NSNs case-insensitively, and part
numbers however spelled (``wp-2207 a`` finds ``WP-2207-A``, by the compacted key the graph
stores, as retrieval does). All Cypher is in ``graph.cypher``; it runs on FalkorDB and Neo4j.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool

from graph import cypher
from graph.base import GraphStore
from maint.domain import DOCUMENT_SCOPED_LABELS, SHARED_LABELS
from maint.identifiers import norm_part_number
from serving.api.auth import require_api_key
from serving.api.catalog import CatalogDep
from serving.api.errors import ApiError, error_responses
from serving.api.models import EntityDetail, EntityList, EntitySummary, Neighbour, Source

router = APIRouter(tags=["graph"], dependencies=[Depends(require_api_key)])

LABELS = (*SHARED_LABELS, *DOCUMENT_SCOPED_LABELS)
# What a search looks in unless told otherwise: the things a technician names.
SEARCHED = ("Equipment", "Component", "Part", "Tool", "Procedure")
MAX_NEIGHBOURS = 500


def display_name(label: str, props: dict[str, Any]) -> str:
    """What a technician calls the node."""
    if label == "Part":
        return str(props.get("part_number") or props.get("key"))
    if label == "Spec":
        value = " ".join(str(props[k]) for k in ("value", "unit") if props.get(k) is not None)
        return f"{props.get('parameter', '')}: {value}".strip(": ")
    if label == "Step":
        return f"{props.get('number', '?')}. {props.get('text', '')}"[:120]
    if label == "Warning":
        return str(props.get("text", ""))[:120]
    if label == "Interval":
        return f"{props.get('task', '')} ({props.get('interval', '')})"
    for field in ("name", "title"):
        if props.get(field):
            return str(props[field])
    return str(props.get("key", ""))


def summary(label: str, key: str, props: dict[str, Any]) -> EntitySummary:
    return EntitySummary(
        id=f"{label}:{key}",
        label=label,
        key=key,
        name=display_name(label, props),
        properties={k: v for k, v in props.items() if k != "key"},
    )


def _sources(rows: list[dict[str, Any]] | None) -> list[Source]:
    return [Source.model_validate(r) for r in rows or [] if r and r.get("chunk_id")]


def _graph_call(graph: GraphStore, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a read; a store that went down answers 503, anything else is a bug (500)."""
    try:
        return graph.run(query, params)
    except Exception as exc:
        if graph.ping():
            raise
        raise ApiError(
            503,
            "the graph store is unreachable; graph endpoints resume by themselves once it is "
            "back (GET /ready)",
            "graph_unavailable",
            headers={"Retry-After": "5"},
        ) from exc


@router.get("/v1/graph/entities", response_model=EntityList, responses=error_responses(401, 503))
async def search_entities(
    catalog: CatalogDep,
    q: Annotated[
        str, Query(min_length=1, max_length=200, description="Name, part number, title or NSN.")
    ],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    label: Annotated[
        list[str] | None,
        Query(description=f"Only these labels (default: {', '.join(SEARCHED)})."),
    ] = None,
) -> EntityList:
    """Find entities by name or part number, best matches first."""
    labels = label or list(SEARCHED)
    unknown = [x for x in labels if x not in LABELS]
    if unknown:
        raise ApiError(
            422,
            f"unknown label(s) {', '.join(unknown)}; use {', '.join(LABELS)}",
            "invalid_label",
            param="label",
        )
    text = q.strip().lower()
    compact = norm_part_number(q)
    params = {
        "labels": labels,
        "q": text,
        "compact": compact if re.search(r"\d", compact) else "",
        "limit": limit,
    }
    graph = catalog.require_graph()
    rows = await run_in_threadpool(_graph_call, graph, cypher.SEARCH_ENTITIES, params)
    return EntityList(entities=[summary(r["label"], r["key"], r["props"] or {}) for r in rows])


@router.get(
    "/v1/graph/entities/{entity_id:path}",
    response_model=EntityDetail,
    responses=error_responses(401, 404, 503),
)
async def get_entity(
    catalog: CatalogDep,
    entity_id: Annotated[str, Path(description="'<Label>:<key>', e.g. Part:WP2207A.")],
    limit: Annotated[int, Query(ge=1, le=MAX_NEIGHBOURS, description="Most relations.")] = 200,
) -> EntityDetail:
    """An entity, where it was read, and its neighbours (relation, direction, sources)."""
    label, _, key = entity_id.partition(":")
    if label not in LABELS or not key:
        raise ApiError(
            404,
            f"no entity {entity_id!r}: ids look like 'Part:WP2207A' (label: "
            f"{', '.join(LABELS)}); GET /v1/graph/entities?q= finds them",
            "entity_not_found",
            param="entity_id",
        )
    graph = catalog.require_graph()

    def read() -> EntityDetail:
        found = _graph_call(graph, cypher.entity(label), {"key": key})
        if not found:
            raise ApiError(404, f"no entity {entity_id!r}", "entity_not_found", param="entity_id")
        neighbours: list[Neighbour] = []
        truncated = False
        for direction in ("out", "in"):
            params = {"key": key, "limit": limit + 1}
            rows = _graph_call(graph, cypher.entity_neighbours(label, direction), params)
            truncated = truncated or len(rows) > limit
            neighbours += [
                Neighbour(
                    relation=r["type"],
                    direction=direction,  # type: ignore[arg-type]
                    relation_properties=r["rel"] or {},
                    entity=summary(r["label"], r["key"], r["props"] or {}),
                    sources=_sources(r["sources"]),
                )
                for r in rows[:limit]
            ]
        entity = summary(label, key, found[0]["props"] or {})
        return EntityDetail(
            **entity.model_dump(),
            sources=_sources(found[0]["sources"]),
            neighbours=neighbours,
            truncated=truncated,
        )

    return await run_in_threadpool(read)
