"""The one path every answering endpoint takes: check the request, queue it for the answer
worker, and turn what can go wrong into a clear HTTP error."""

from __future__ import annotations

import time

import psycopg
from fastapi import Request

from retrieval.store import StoreError
from serving.answering.generate import GeneratorError
from serving.answering.prompt import clean_question
from serving.answering.schema import Answer, Mode
from serving.api.backends import StoreUnavailable, short
from serving.api.deps import ServingState
from serving.api.errors import ApiError
from serving.api.observe import note
from serving.api.queue import GenerationCancelled, QueueFull

NO_GRAPH = "graph store unavailable; answered without graph facts"


def adapter_path(state: ServingState, name: str | None) -> str | None:
    """An adapter the API may load: a name under DATA_DIR/adapters, never a client's path."""
    if name is None:
        return None
    path = state.settings.adapters_dir / name
    if not (path / "adapter_config.json").is_file():
        raise ApiError(
            404,
            f"adapter {name!r} not found under the server's adapters folder "
            "(`maint finetune list` on the server lists them)",
            "adapter_not_found",
            param="adapter",
        )
    return str(path)


async def answer_question(
    state: ServingState,
    request: Request,
    question: str,
    mode: Mode,
    adapter: str | None = None,
    show_context: bool = False,
) -> Answer:
    request_note = note(request)
    request_note.mode, request_note.question = mode, question
    cleaned, _ = clean_question(question, state.settings.max_question_chars)
    if not cleaned:
        raise ApiError(400, "the question is empty", "empty_question", param="question")
    adapter = adapter_path(state, adapter)
    backends = state.backends
    queued = time.perf_counter()
    waited: list[float] = []

    def job() -> Answer:
        waited.append(time.perf_counter() - queued)
        answerer, has_graph = backends.answerer()
        try:
            answer = answerer.ask(question, mode=mode, adapter=adapter, show_context=show_context)
        except (psycopg.Error, StoreError) as exc:
            if backends.lost_pg(exc):
                raise StoreUnavailable(short(exc)) from exc
            raise
        if mode == "hybrid" and not has_graph:
            answer.warnings.append(NO_GRAPH)
        return answer

    try:
        answer = await state.queue.run(job, request.is_disconnected)
    except QueueFull as exc:
        state.metrics.queue_rejections.inc()
        raise ApiError(
            503,
            f"all {state.queue.capacity} answer slots are busy; retry after {exc.retry_after_s} s",
            "queue_full",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    except StoreUnavailable as exc:
        raise ApiError(
            503,
            f"PostgreSQL is unreachable ({exc}); answers resume by themselves once it is "
            "back (GET /ready shows the stores' state)",
            "store_unavailable",
            headers={"Retry-After": "5"},
        ) from None
    except GeneratorError as exc:
        raise ApiError(503, f"the model is not available: {exc}", "model_unavailable") from None
    except GenerationCancelled:
        raise ApiError(499, "the client closed the request", "client_closed") from None
    finally:
        if waited:
            request_note.timings_ms["queue"] = round(waited[0] * 1000, 1)

    state.metrics.observe_answer(answer)
    backends.note_model(answer.model)
    t = answer.timings
    if "retrieve_total" in t:
        request_note.timings_ms["retrieve"] = round(t["retrieve_total"], 1)
    for stage, name in (("generate", "generate"), ("guard", "guard"), ("total", "answer")):
        if stage in t:
            request_note.timings_ms[name] = t[stage]
    return answer
