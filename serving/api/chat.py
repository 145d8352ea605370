"""OpenAI-compatible endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions``.

The model name picks the mode (``maint-hybrid``, ``maint-rag``, ``maint-ft``); the question is
the last user message. The text keeps its [n] markers; what they point to, the graph facts
and the guard's verdict travel in the extra field ``maint`` (on the response, and on the
last chunk of a stream).

Streaming policy: the guard checks every part number and value of an answer against the
sources, and may replace the whole draft with a quote of the source. A token stream would
have shown the technician the draft before that check, so the answer is generated and
checked first, and only the checked text is streamed, in word-sized chunks. Time to first
token is therefore the time to the whole answer; what a technician sees is never retracted.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from serving.api.answer import answer_question
from serving.api.auth import require_api_key
from serving.api.deps import State
from serving.api.errors import ApiError, error_responses
from serving.api.models import (
    MODEL_MODES,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    MaintExtra,
    ModelCard,
    ModelList,
)

router = APIRouter(tags=["OpenAI-compatible"], dependencies=[Depends(require_api_key)])

_STARTED = int(time.time())
_DESCRIPTIONS = {
    "maint-hybrid": "Adapter (if configured) + vector, keyword and graph retrieval.",
    "maint-rag": "Base model + vector and keyword retrieval.",
    "maint-ft": "Fine-tuned adapter, closed book (no retrieval).",
}
_WORD_START = re.compile(r"(?<=\s)(?=\S)")

_STREAM_DOC = {
    "description": "A JSON ChatCompletion, or with stream=true server-sent events: "
    "`data: {ChatCompletionChunk}` lines, the last chunk with finish_reason 'stop' and "
    "`maint`, then `data: [DONE]`.",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


@router.get("/v1/models", response_model=ModelList, responses=error_responses(401))
def list_models() -> ModelList:
    """The answer modes, as OpenAI model names."""
    return ModelList(
        data=[ModelCard(id=m, created=_STARTED, description=d) for m, d in _DESCRIPTIONS.items()]
    )


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={200: _STREAM_DOC, **error_responses(400, 401, 404, 413, 422, 503)},
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, state: State
) -> ChatCompletion | StreamingResponse:
    """Answer the last user message, grounded in the manuals, with [n] citations."""
    mode = MODEL_MODES.get(body.model)
    if mode is None:
        raise ApiError(
            404,
            f"the model {body.model!r} does not exist; use one of {', '.join(MODEL_MODES)} "
            "(GET /v1/models)",
            "model_not_found",
            param="model",
        )
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise ApiError(
            400,
            "no user message: the question is the last message with role 'user'",
            "no_user_message",
            param="messages",
        )
    answer = await answer_question(state, request, users[-1].text(), mode)
    extra = MaintExtra.of(answer)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[Choice(message=AssistantMessage(content=answer.answer))],
            usage=answer.usage,
            maint=extra,
        )

    def chunk(delta: Delta, finish: bool = False) -> str:
        event = ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if finish else None)],
            maint=extra if finish else None,
        )
        return _sse(event)

    async def events() -> AsyncIterator[str]:
        yield chunk(Delta(role="assistant", content=""))
        for piece in _WORD_START.split(answer.answer):
            yield chunk(Delta(content=piece))
        yield chunk(Delta(), finish=True)
        if body.stream_options and body.stream_options.include_usage:
            last = ChatCompletionChunk(
                id=completion_id, created=created, model=body.model, choices=[], usage=answer.usage
            )
            yield _sse(last)
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: ChatCompletionChunk) -> str:
    data: dict[str, Any] = event.model_dump(mode="json")
    for choice in data["choices"]:  # OpenAI sends only the delta's set fields
        choice["delta"] = {k: v for k, v in choice["delta"].items() if v is not None}
    for optional in ("usage", "maint"):
        if data[optional] is None:
            del data[optional]
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
