"""The API's OpenAPI schema fuzzed by schemathesis against the real app, stores and model:
no request, however odd, gets a 500. (Its first runs found two: a question without searchable
words, and a NUL in a graph search box.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from serving.answering.answer import GeneratorPool
from serving.api.app import create_app
from tests.helpers import GEARBOX, running

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"  # a dev dependency


def test_generated_requests_never_get_a_server_error(scratch):
    """In a scratch workspace: the fuzzer also calls DELETE /v1/documents/{id}."""
    scratch.ingest(GEARBOX)
    app = create_app(
        scratch.settings, generators=GeneratorPool(scratch.settings), embedder=scratch.embedder
    )
    with running(app) as url:
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "25",
                "--request-timeout",
                "180",
                "--workers",
                "1",
                "--seed",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert run.returncode == 0, run.stdout[-6000:]
