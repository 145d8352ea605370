"""Manuals over HTTP: upload for ingestion (a background job), follow the job, list, show and
delete documents, and read one chunk (what a citation points to).

``POST /v1/documents`` checks every file first (count, type, size; see ``uploads``) and
refuses the whole request if one breaks a limit, so a client never has half a batch stored.
The files are then written under ``DATA_DIR/uploads/<job id>/`` and ingested by a background
job (``jobs``); a file that turns out to be damaged fails alone, with its reason, as in
``maint ingest``. Document ids may be abbreviated to a unique prefix, as in the CLI, and
``DELETE`` does what ``maint documents delete`` does: the chunks, and the graph facts only
that document supported.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from ingestion.catalog import AmbiguousDocumentId, DocumentCatalog, DocumentNotFound, fact_counts
from maint.domain import DocumentRecord
from retrieval.store import ChunkStore
from serving.api.auth import require_api_key
from serving.api.catalog import Catalog, CatalogDep
from serving.api.errors import ApiError, error_responses
from serving.api.jobs import JOB_ID_PATTERN, new_job_id
from serving.api.models import (
    ChunkSummary,
    ChunkText,
    DeletedDocument,
    DocumentDetail,
    DocumentInfo,
    DocumentList,
    Job,
    JobAccepted,
)
from serving.api.uploads import Upload, check, store

router = APIRouter(tags=["documents"], dependencies=[Depends(require_api_key)])

DocId = Annotated[str, Path(min_length=1, max_length=64, description="Id or unique prefix.")]


def _info(doc: DocumentRecord) -> DocumentInfo:
    return DocumentInfo.model_validate(doc.model_dump(include=set(DocumentInfo.model_fields)))


def _resolve(documents: DocumentCatalog, doc_id: str) -> DocumentRecord:
    """A complete document by id or unique id prefix; 404 / 409 otherwise."""
    try:
        return documents.resolve(doc_id)
    except DocumentNotFound as exc:
        raise ApiError(
            404, f"{exc}; GET /v1/documents lists them", "document_not_found", param="id"
        ) from None
    except AmbiguousDocumentId as exc:
        raise ApiError(409, str(exc), "ambiguous_id", param="id") from None


@router.post(
    "/v1/documents",
    status_code=202,
    response_model=JobAccepted,
    responses=error_responses(400, 401, 413, 415, 422),
)
async def upload_documents(
    files: Annotated[
        list[UploadFile],
        File(description="One or more manuals (.pdf .html .htm .md .markdown .txt)."),
    ],
    response: Response,
    catalog: CatalogDep,
) -> JobAccepted:
    """Upload manuals; they are ingested in the background. Follow GET /v1/jobs/{id}."""
    settings = catalog.settings
    uploads = [Upload(f.filename or "", f.size or 0, f.file) for f in files]
    check(uploads, settings)
    job_id = new_job_id()
    stored = await run_in_threadpool(store, uploads, settings.uploads_dir / job_id)
    job = catalog.jobs.submit(job_id, stored)
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    return JobAccepted(id=job.id, status=job.status, url=f"/v1/jobs/{job_id}", files=job.files)


@router.get("/v1/jobs/{job_id}", response_model=Job, responses=error_responses(401, 404, 422))
def get_job(job_id: Annotated[str, Path(pattern=JOB_ID_PATTERN)], catalog: CatalogDep) -> Job:
    """An ingestion job: status, progress, and each file's result or error."""
    job = catalog.jobs.get(job_id)
    if job is None:
        raise ApiError(
            404,
            f"no job {job_id!r} (jobs are kept in memory: a restarted server forgets them; "
            "GET /v1/documents lists what was ingested)",
            "job_not_found",
            param="job_id",
        )
    return job


@router.get("/v1/documents", response_model=DocumentList, responses=error_responses(401, 503))
async def list_documents(catalog: CatalogDep) -> DocumentList:
    """Every stored document, as `maint documents list` shows them."""
    docs = await catalog.with_pg(lambda pg: DocumentCatalog(pg).list())
    return DocumentList(documents=[_info(d) for d in docs])


@router.get(
    "/v1/documents/{doc_id}",
    response_model=DocumentDetail,
    responses=error_responses(401, 404, 409, 503),
)
async def get_document(doc_id: DocId, catalog: CatalogDep) -> DocumentDetail:
    """A document's metadata, its chunks (pages, sections) and the facts read from it."""

    def read(pg: ChunkStore) -> tuple[DocumentRecord, list[dict]]:
        documents = DocumentCatalog(pg)
        doc = _resolve(documents, doc_id)
        return doc, documents.chunks(doc.id)

    doc, rows = await catalog.with_pg(read)
    facts, warnings = await run_in_threadpool(_facts_of, catalog, doc.id)
    chunks = [ChunkSummary(section=r["section_path"], **r) for r in rows]
    return DocumentDetail(
        **_info(doc).model_dump(),
        sections=len({c.section for c in chunks}),
        facts=facts,
        chunk_list=chunks,
        warnings=warnings,
    )


def _facts_of(catalog: Catalog, doc_id: str) -> tuple[dict[str, int], list[str]]:
    graph = catalog.graph()
    if graph is None:
        return {}, ["graph store unavailable; facts not counted"]
    try:
        return fact_counts(graph, doc_id), []
    except Exception as exc:  # down since it was opened: the document itself is still shown
        return {}, [f"graph store unavailable ({type(exc).__name__}); facts not counted"]


@router.delete(
    "/v1/documents/{doc_id}",
    response_model=DeletedDocument,
    responses=error_responses(401, 404, 409, 503),
)
async def delete_document(doc_id: DocId, catalog: CatalogDep) -> DeletedDocument:
    """Delete a document: its chunks, and the graph facts only it supported."""
    graph = catalog.require_graph()

    def delete(pg: ChunkStore) -> DocumentRecord:
        documents = DocumentCatalog(pg, graph)
        doc = _resolve(documents, doc_id)
        try:
            documents.delete(doc.id)
        except Exception as exc:
            if graph.ping():
                raise
            raise ApiError(
                503,
                "the graph store is unreachable, so the document's facts cannot be removed; "
                "nothing was deleted from PostgreSQL. Try again once it is back (GET /ready)",
                "graph_unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        return doc

    doc = await catalog.with_pg(delete)
    return DeletedDocument(deleted=_info(doc))


@router.get(
    "/v1/chunks/{chunk_id}", response_model=ChunkText, responses=error_responses(401, 404, 503)
)
async def get_chunk(
    chunk_id: Annotated[str, Path(min_length=1, max_length=100)], catalog: CatalogDep
) -> ChunkText:
    """One chunk's text, with its document, pages and section: what a citation points to."""
    rows = await catalog.with_pg(lambda pg: pg.chunks_by_ids([chunk_id]))
    if not rows:
        raise ApiError(404, f"no chunk {chunk_id!r}", "chunk_not_found", param="chunk_id")
    r = rows[0]
    return ChunkText(id=r["chunk_id"], **{f: r[f] for f in ChunkText.model_fields if f != "id"})
