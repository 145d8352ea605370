"""What goes over the wire in the HTTP API: every request and response body, typed.

The chat models follow OpenAI's ``/v1/chat/completions`` closely enough for the official
client, LangChain and chat UIs to work unchanged. What maint adds (citations, graph facts,
the guard's verdict) travels in one extra field, ``maint``, which OpenAI clients keep as an
unknown attribute. Sampling parameters a client sends (temperature, max_tokens, ...) are
accepted and ignored: the server's settings decide how answers are generated, so the same
question gets the same checked answer whoever asks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.answering.schema import Answer, Citation, Evidence, Mode, Usage

# The model name a client picks selects the answer mode.
MODEL_MODES: dict[str, Mode] = {"maint-hybrid": "hybrid", "maint-rag": "rag", "maint-ft": "ft"}


# -- errors (OpenAI's shape) ----------------------------------------------------------------


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong and, where it helps, what to do.")
    type: str = Field(description="e.g. invalid_request_error, authentication_error.")
    code: str | None = Field(default=None, description="e.g. model_not_found, queue_full.")
    param: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# -- chat completions -----------------------------------------------------------------------


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are read."""

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: str = Field(description="system, user, assistant, ... Only user turns are read.")
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = Field(
        default=False, description="Send a last chunk with no choices and the token usage."
    )


class ChatCompletionRequest(BaseModel):
    """OpenAI's request. The question is the last user message; earlier turns are not used
    (every answer is grounded on its own retrieval and checked by the guard)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="maint-hybrid, maint-rag or maint-ft (see GET /v1/models).")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = Field(
        default=False,
        description="Server-sent events. The stream starts once the answer has passed the "
        "guard, so no unchecked part number or value is ever sent.",
    )
    stream_options: StreamOptions | None = None


class MaintExtra(BaseModel):
    """What maint adds to an OpenAI response: the answer's sources and the guard's verdict."""

    mode: Mode
    citations: list[Citation] = Field(description="The sources behind the [n] markers.")
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="Hybrid mode: the lines the answer quotes, verbatim, with their pages.",
    )
    confidence: float | None = Field(
        default=None, description="Hybrid mode: the best quoted line's selector score."
    )
    facts: list[dict] = Field(description="Graph facts given to the model.")
    verified: bool = Field(
        description="Every part number and value in the text stands in the source it cites."
    )
    unsupported: list[str] = Field(description="Items of the model's draft the sources lack.")
    refused: bool = Field(description="Answered 'not in the documentation'.")
    fallback: Literal["extractive", "refusal"] | None = Field(
        default=None,
        description="extractive: the draft had unsupported items, so the text quotes the "
        "sources instead; refusal: retrieval found nothing relevant.",
    )
    warnings: list[str] = []
    model: str = Field(description="The model that generated the answer.")
    timings: dict[str, float] = Field(description="Milliseconds per stage.")

    @classmethod
    def of(cls, answer: Answer) -> MaintExtra:
        return cls.model_validate(answer.model_dump(include=set(cls.model_fields)))


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    maint: MaintExtra


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One ``data:`` event of a stream. The last one with a choice carries ``maint``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    maint: MaintExtra | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "maint"
    description: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- structured query -----------------------------------------------------------------------


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, description="What to ask the manuals.")
    mode: Mode = Field(
        default="hybrid",
        description="rag: base model + vector/keyword search; ft: fine-tuned adapter, closed "
        "book; hybrid: adapter (if any) + vector + keyword + graph.",
    )
    adapter: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Name of an adapter under DATA_DIR/adapters (default: MAINT_ADAPTER).",
    )
    show_context: bool = Field(default=False, description="Include the retrieved chunks.")


# -- operations -----------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Check] = Field(description="postgres, graph and model.")


# -- documents and ingestion jobs -----------------------------------------------------------

JobStatus = Literal["queued", "running", "done", "failed"]


class DocumentInfo(BaseModel):
    """A stored manual, as ``maint documents list --json`` prints it."""

    id: str = Field(description="First 16 hex digits of the content's sha256.")
    title: str
    source_path: str = Field(description="Where the server read it (uploads: DATA_DIR/uploads).")
    format: str
    pages: int
    chunks: int
    bytes: int
    sha256: str
    ingested_at: str | None = None


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class ChunkSummary(BaseModel):
    id: str
    ordinal: int
    section: str
    page_start: int | None
    page_end: int | None
    tokens: int


class DocumentDetail(DocumentInfo):
    """A document with what was read from it."""

    sections: int = Field(description="Distinct section paths among its chunks.")
    facts: dict[str, int] = Field(description="Graph nodes read from it, per label.")
    chunk_list: list[ChunkSummary]
    warnings: list[str] = Field(default=[], description="e.g. the graph store is unreachable.")


class DeletedDocument(BaseModel):
    deleted: DocumentInfo


class ChunkText(BaseModel):
    """One chunk, for showing what a citation points to."""

    id: str
    document_id: str
    document: str
    source_path: str
    section: str
    page_start: int | None
    page_end: int | None
    text: str


class FileOutcome(BaseModel):
    """One uploaded file of a job, as ``maint ingest`` reports it."""

    name: str = Field(description="The file name as stored (sanitised).")
    uploaded_as: str = Field(description="The file name the client sent.")
    bytes: int
    status: Literal["queued", "added", "updated", "unchanged", "failed", "skipped"] = "queued"
    document_id: str | None = None
    title: str | None = None
    pages: int = 0
    chunks: int = 0
    entities: int = 0
    relations: int = 0
    seconds: float = 0.0
    reason: str | None = Field(default=None, description="Why it failed.")
    hint: str | None = Field(default=None, description="What to do about it.")


class Progress(BaseModel):
    done: int
    total: int
    current: str | None = Field(default=None, description="The file being ingested now.")


class Job(BaseModel):
    """An ingestion job: the files of one POST /v1/documents."""

    id: str
    status: JobStatus = Field(
        description="queued, running, done (every file handled, some may have failed: see "
        "files) or failed (the job itself could not run: see error)."
    )
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    progress: Progress
    files: list[FileOutcome]
    errors: list[FileOutcome] = Field(
        default=[], description="The files that failed, with reason and hint."
    )
    error: str | None = Field(default=None, description="Why the job could not run.")


class JobAccepted(BaseModel):
    id: str
    status: JobStatus
    url: str = Field(description="Where to follow it: GET /v1/jobs/{id}.")
    files: list[FileOutcome]


# -- graph inspection -----------------------------------------------------------------------


class Source(BaseModel):
    """A chunk a fact was read from: document and pages, for a citation."""

    chunk_id: str
    document_id: str | None = None
    document: str | None = None
    page_start: int | None = None
    page_end: int | None = None
    section: str | None = None


class EntitySummary(BaseModel):
    id: str = Field(description="'<Label>:<key>', e.g. 'Part:WP2207A'.")
    label: str
    key: str
    name: str = Field(description="What a technician calls it: name, part number, title...")
    properties: dict[str, Any]


class EntityList(BaseModel):
    entities: list[EntitySummary]


class Neighbour(BaseModel):
    relation: str = Field(description="Relation type, e.g. HAS_PART, USES_PART.")
    direction: Literal["out", "in"] = Field(
        description="out: (entity)-[relation]->(neighbour); in: (neighbour)-[relation]->(entity)."
    )
    relation_properties: dict[str, Any] = Field(
        description="e.g. qty, item, order; documents: the manuals that support the relation."
    )
    entity: EntitySummary
    sources: list[Source] = Field(description="Where the neighbour was read (at most 5).")


class EntityDetail(EntitySummary):
    sources: list[Source] = Field(description="Chunks it was read from (at most 5).")
    neighbours: list[Neighbour]
    truncated: bool = Field(description="More relations exist than were returned (limit).")
