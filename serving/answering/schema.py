"""The answer as every boundary sees it (CLI JSON, HTTP API, eval): typed, documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

Mode = Literal["rag", "ft", "hybrid"]
MODES: tuple[Mode, ...] = ("rag", "ft", "hybrid")


class Citation(BaseModel):
    n: int = Field(description="The [n] marker in the answer text.")
    document: str
    document_id: str
    source_path: str
    page: int | None
    pages: str
    section: str
    chunk_id: str
    cited: bool = Field(description="The answer text cites it (otherwise: context only).")


class Evidence(BaseModel):
    """A line the answer quotes, verbatim from its source: what a technician checks."""

    n: int = Field(description="The [n] of the source (citation) it stands in.")
    text: str = Field(description="The line as printed (a table row as 'header: cell; ...').")
    kind: str = Field(description="row, part_row, sentence or safety.")
    document: str
    page: int | None
    pages: str
    section: str
    score: float = Field(description="The selector's score; the answer's confidence is the best.")


class Usage(BaseModel):
    """Tokens the generator read and wrote (OpenAI's field names); zero when nothing was
    generated (a refusal before generation)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @computed_field
    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Answer(BaseModel):
    question: str
    answer: str
    mode: Mode
    citations: list[Citation]
    facts: list[dict] = Field(description="Graph facts given to the model.")
    verified: bool = Field(
        description="Every part number and value in the answer stands in the source it cites."
    )
    unsupported: list[str] = Field(description="Part numbers/values the sources do not back.")
    refused: bool = Field(description="Answered 'not in the documentation'.")
    fallback: Literal["extractive", "refusal"] | None = Field(
        default=None,
        description="extractive: the model's draft had unsupported items or was degenerate, "
        "so the answer quotes the source instead; refusal: retrieval found nothing relevant.",
    )
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="The quoted lines the answer stands on (hybrid mode), with their pages.",
    )
    confidence: float | None = Field(
        default=None,
        description="Hybrid mode: the best line's selector score; under the selector's "
        "threshold the answer is 'not in the documentation'.",
    )
    draft: str | None = Field(default=None, description="The model's text when replaced.")
    model: str
    warnings: list[str] = []
    timings: dict[str, float] = Field(description="Milliseconds per stage.")
    usage: Usage = Field(default_factory=Usage)
    context: list[dict] | None = Field(default=None, description="With --show-context.")
