"""Operations endpoints: ``/health`` (liveness: the process answers; touches no store),
``/ready`` (stores reachable and model loaded, else 503 saying which is not) and ``/metrics``
(Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from serving.api.auth import require_api_key
from serving.api.deps import State
from serving.api.errors import error_responses
from serving.api.models import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: the server process is up. Checks nothing else."""
    return Health()


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(state: State) -> Readiness | JSONResponse:
    """Readiness: PostgreSQL and the graph store reachable, the model loaded."""
    readiness = await run_in_threadpool(state.backends.readiness)
    if readiness.ready:
        return readiness
    return JSONResponse(readiness.model_dump(), status_code=503)


@router.get(
    "/metrics",
    dependencies=[Depends(require_api_key)],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(401),
    },
)
def metrics(request: Request, state: State) -> Response:
    """Prometheus metrics: requests and latency per endpoint and mode, retrieval and
    generation seconds, guard and queue rejections."""
    body, content_type = state.metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)
