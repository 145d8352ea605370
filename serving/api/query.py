"""``POST /v1/query``: the structured answer (``serving.answering.schema.Answer``), as
``maint ask --json`` prints it: answer, mode, citations with document/page/section, facts,
verified flag, unsupported items, the withheld draft, timings."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from serving.answering.schema import Answer
from serving.api.answer import answer_question
from serving.api.auth import require_api_key
from serving.api.deps import State
from serving.api.errors import error_responses
from serving.api.models import QueryRequest

router = APIRouter(tags=["maint"], dependencies=[Depends(require_api_key)])


@router.post(
    "/v1/query", response_model=Answer, responses=error_responses(400, 401, 404, 413, 422, 503)
)
async def query(body: QueryRequest, request: Request, state: State) -> Answer:
    """Ask the manuals a question; the answer with its sources and the guard's verdict."""
    return await answer_question(
        state, request, body.question, body.mode, body.adapter, body.show_context
    )
