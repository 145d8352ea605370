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
        description="Every part number and value in the answer is in the sources."
    )
    unsupported: list[str] = Field(description="Part numbers/values the sources do not back.")
    refused: bool = Field(description="Answered 'not in the documentation'.")
    fallback: Literal["extractive", "refusal"] | None = Field(
        default=None,
        description="extractive: the model's draft had unsupported items, so the answer quotes "
        "the source instead; refusal: retrieval found nothing relevant.",
    )
    draft: str | None = Field(default=None, description="The model's text when replaced.")
    model: str
    warnings: list[str] = []
    timings: dict[str, float] = Field(description="Milliseconds per stage.")
    usage: Usage = Field(default_factory=Usage)
    context: list[dict] | None = Field(default=None, description="With --show-context.")
