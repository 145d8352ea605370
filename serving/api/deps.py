"""What the endpoints are given (FastAPI dependencies): the app's long-lived resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from maint.settings import Settings
from serving.api.backends import Backends
from serving.api.metrics import ApiMetrics
from serving.api.queue import AnswerQueue


@dataclass
class ServingState:
    """Built once by the app's lifespan: stores, models, the answer queue, the metrics."""

    settings: Settings
    backends: Backends
    queue: AnswerQueue
    metrics: ApiMetrics


def serving_state(request: Request) -> ServingState:
    return request.app.state.maint


State = Annotated[ServingState, Depends(serving_state)]
