"""The HTTP API end to end: a real uvicorn on a loopback port, the real embedded stores, the
real embedder and SmolLM2, and the official ``openai`` client.

One test double, named as such: ``SlowFakeGenerator`` keeps the answer worker busy for the
queue tests (they test the queue, not the model).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import openai
import pytest
from pydantic import SecretStr

from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres
from serving.answering.answer import GeneratorPool
from serving.answering.generate import Generation
from serving.answering.schema import Answer
from serving.api.app import create_app
from serving.api.observe import JsonFormatter
from tests.helpers import AUTH, GEARBOX, KEY, ROOT, TORQUE_Q, running, with_, workspace

CITE = re.compile(r"\[\d{1,2}\]")
GEARBOX_Q = "What torque do the CG-90 shrink disc locking screws get?"
# SmolLM2's draft for this one names a part the sources do not back, so the guard answers with
# verbatim source lines and their [n] markers (greedy decoding: the same every run).
SUPERSEDED_Q = "Which part supersedes WP-2207?"
OFF_TOPIC_Q = "Who won the football world cup in 1998?"


def as_word(item: str) -> re.Pattern:
    """``item`` standing alone: WP-2207 is not in "WP-2207-A"."""
    return re.compile(rf"(?<![\w-]){re.escape(item)}(?![\w-])")


def metric(base_url: str, line_start: str) -> float | None:
    """A sample's value from /metrics (None when absent)."""
    text = httpx.get(f"{base_url}/metrics", headers=AUTH, timeout=30).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


# -- the API on the sample corpus, with an API key ----------------------------------------


@pytest.fixture(scope="module")
def pool(corpus) -> GeneratorPool:
    return GeneratorPool(corpus.settings)


@pytest.fixture(scope="module")
def api(corpus, pool) -> Iterator[str]:
    settings = with_(corpus.settings, api_keys=[SecretStr(KEY)], max_request_kb=64)
    app = create_app(settings, generators=pool, embedder=corpus.embedder)
    with running(app) as url:
        yield url


@pytest.fixture(scope="module")
def http(api) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, headers=AUTH, timeout=600) as client:
        yield client


@pytest.fixture(scope="module")
def client(api) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api}/v1", api_key=KEY, max_retries=0, timeout=600)


@pytest.fixture(scope="module")
def rag_completion(client):
    return client.chat.completions.create(
        model="maint-rag",
        messages=[
            {"role": "system", "content": "You are a maintenance assistant."},
            {"role": "user", "content": SUPERSEDED_Q},
        ],
    )


def test_openai_client_chat(rag_completion):
    text = rag_completion.choices[0].message.content
    assert text and CITE.search(text), text
    assert rag_completion.model == "maint-rag"
    assert rag_completion.choices[0].finish_reason == "stop"
    usage = rag_completion.usage  # the generator's real token counts
    assert usage.prompt_tokens > 100 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    extra = rag_completion.maint  # the documented extra field, kept by the client
    assert extra["mode"] == "rag" and extra["facts"] == []  # rag: no graph
    assert extra["citations"] and all(c["document"] and c["pages"] for c in extra["citations"])
    cited = {int(n) for n in re.findall(r"\[(\d{1,2})\]", text)}
    assert cited <= {c["n"] for c in extra["citations"] if c["cited"]}
    assert {"verified", "unsupported", "refused", "fallback", "warnings", "timings"} <= set(extra)
    assert extra["verified"] or extra["fallback"] == "extractive"
    shown = [x for x in extra["unsupported"] if as_word(x).search(text)]
    assert not shown, (text, extra["unsupported"])  # the guard held over HTTP


def test_openai_client_stream(client, rag_completion):
    stream = client.chat.completions.create(
        model="maint-rag",
        messages=[{"role": "user", "content": SUPERSEDED_Q}],
        stream=True,
        stream_options={"include_usage": True},
    )
    *chunks, usage_chunk = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 3 and chunks[0].choices[0].delta.role == "assistant"
    assert text == rag_completion.choices[0].message.content  # greedy: the same checked answer
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.maint["citations"] and last.maint["mode"] == "rag"
    assert all(getattr(c, "maint", None) is None for c in chunks[:-1])
    assert usage_chunk.choices == [] and usage_chunk.usage == rag_completion.usage


def test_models_and_unknown_model(client, http):
    assert [m.id for m in client.models.list()] == ["maint-hybrid", "maint-rag", "maint-ft"]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found" and "maint-rag" in info.value.message
    raw = http.post(
        "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "q"}]},
    )
    assert raw.status_code == 404
    assert set(raw.json()["error"]) >= {"message", "type", "code"}


def test_query_returns_the_structured_answer(http):
    r = http.post("/v1/query", json={"question": TORQUE_Q, "mode": "hybrid"})
    assert r.status_code == 200, r.text
    a = Answer.model_validate(r.json())
    assert a.mode == "hybrid" and a.citations and a.facts
    assert all(c.document and c.page and c.section is not None for c in a.citations)
    assert a.verified or a.fallback == "extractive"
    assert {"retrieve_vector", "retrieve_graph", "total"} <= set(a.timings)

    refused = http.post("/v1/query", json={"question": OFF_TOPIC_Q, "mode": "rag"}).json()
    assert refused["refused"] and refused["fallback"] == "refusal"


def test_bad_requests_get_clear_errors(http):
    empty = http.post("/v1/query", json={"question": "   "})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_question"
    invalid = http.post("/v1/query", json={"question": "q", "mode": "turbo"})
    assert invalid.status_code == 422 and "mode" in invalid.json()["error"]["message"]
    traversal = http.post("/v1/query", json={"question": "q", "adapter": "../../etc"})
    assert traversal.status_code == 422
    missing = http.post("/v1/query", json={"question": "q", "mode": "ft", "adapter": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "adapter_not_found"
    no_user = http.post(
        "/v1/chat/completions",
        json={"model": "maint-rag", "messages": [{"role": "system", "content": "hi"}]},
    )
    assert no_user.status_code == 400 and no_user.json()["error"]["code"] == "no_user_message"
    huge = {"question": "x" * 100_000}  # over max_request_kb=64
    told = http.post("/v1/query", json=huge)  # Content-Length says so
    chunked = http.post("/v1/query", content=iter([json.dumps(huge).encode()]))
    for r in (told, chunked):
        assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


def test_api_keys(api):
    body = {"question": OFF_TOPIC_Q, "mode": "rag"}  # refused before the model: fast
    missing = httpx.post(f"{api}/v1/query", json=body, timeout=60)
    wrong = httpx.post(f"{api}/v1/query", json=body, headers={"Authorization": "Bearer x"})
    for r in (missing, wrong):
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "invalid_api_key" and KEY not in r.text
    assert missing.json() == wrong.json()  # says nothing about which keys exist
    assert httpx.post(f"{api}/v1/query", json=body, headers=AUTH, timeout=60).status_code == 200
    assert httpx.get(f"{api}/v1/models").status_code == 401
    assert httpx.get(f"{api}/metrics").status_code == 401
    assert httpx.get(f"{api}/health").json() == {"status": "ok"}  # open, no key
    bad = openai.OpenAI(base_url=f"{api}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_health_ready_metrics_openapi(api, http, rag_completion):
    ready = httpx.get(f"{api}/ready", timeout=30)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert ready.json()["ready"] and all(checks[k]["ok"] for k in ("postgres", "graph", "model"))

    metrics = http.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert re.search(
        r'maint_http_requests_total\{endpoint="/v1/chat/completions",method="POST",'
        r'mode="rag",status="200"\} [1-9]',
        text,
    )
    assert 'maint_http_request_duration_seconds_bucket{endpoint="/v1/query"' in text
    assert re.search(r'maint_generation_seconds_count\{mode="rag"\} [1-9]', text)
    assert re.search(r'maint_retrieval_seconds_count\{mode="rag"\} [1-9]', text)
    for name in ("maint_guard_rejections_total", "maint_queue_rejections_total"):
        assert f"# TYPE {name} counter" in text

    schema = httpx.get(f"{api}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/query", "/health", "/ready"} <= set(
        schema["paths"]
    )
    names = set(schema["components"]["schemas"])
    assert {"ChatCompletion", "Answer", "ErrorResponse", "Readiness", "QueryRequest"} <= names
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert httpx.get(f"{api}/docs").status_code == 404  # no CDN-loaded Swagger UI


def test_one_json_log_line_per_request_without_the_question(http, caplog):
    caplog.set_level(logging.INFO, logger="maint.api.access")
    r = http.post("/v1/query", json={"question": OFF_TOPIC_Q, "mode": "rag"})
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while not [x for x in caplog.records if getattr(x, "fields", {}).get("path") == "/v1/query"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (record,) = [x for x in caplog.records if x.fields.get("path") == "/v1/query"]
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "POST" and line["status"] == 200 and line["mode"] == "rag"
    assert line["ms"] > 0 and "queue_ms" in line and "retrieve_ms" in line
    assert "world cup" not in json.dumps(line) and "question" not in line


# -- the command --------------------------------------------------------------------------


def test_maint_serve_command(corpus):
    with socket.socket() as probe:  # a free port (released again for the server)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "MAINT_DATA_DIR": str(corpus.settings.data_dir),
        "MAINT_MODEL_CACHE_DIR": str(corpus.settings.models_dir),
        "MAINT_API_KEYS": "",
    }
    cmd = [sys.executable, "-m", "maint.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "maint serve did not become ready"
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        r = httpx.post(f"{url}/v1/query", json={"question": OFF_TOPIC_Q}, timeout=120)
        assert r.status_code == 200 and r.json()["refused"]
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    lines = [json.loads(x) for x in stderr.splitlines() if x.startswith("{")]
    # Every line is one of maint's JSON records: no uvicorn banner, bar or library warning.
    assert len(lines) == len(stderr.splitlines()), stderr
    assert {x["logger"].split(".")[0] for x in lines} == {"maint"}, stderr
    assert any(x["msg"] == "starting" and x["url"] == url for x in lines)
    (logged,) = [x for x in lines if x.get("path") == "/v1/query"]
    assert logged["status"] == 200 and logged["mode"] == "hybrid" and logged["ms"] > 0
    assert "world cup" not in stderr  # no question text at INFO


# -- start-up refusal ---------------------------------------------------------------------


# -- the queue, with a fake slow model ----------------------------------------------------


def _letters(n: int) -> str:
    return chr(97 + n % 26) + chr(97 + n // 26)  # 2 -> "ca": a word, not a part number


@dataclass
class SlowFakeGenerator:
    """FAKE generator (named as such): writes "impeller nutca nutda ..." one word every ``delay``
    s, so a test can keep the answer worker busy (distinct words on the question's subject,
    so the draft filter lets it through). It tests the queue, not the model."""

    words: int = 60
    delay: float = 0.05
    name: str = "slow-fake"
    adapter: str | None = None
    started: threading.Event = field(default_factory=threading.Event)
    stopped_early: threading.Event = field(default_factory=threading.Event)

    def stream(self, messages, max_new_tokens=None) -> Iterator[str]:
        self.started.set()
        done = 0
        try:
            for done in range(1, self.words + 1):
                time.sleep(self.delay)
                yield "impeller " if done == 1 else f"nut{_letters(done)} "
        finally:
            if done < self.words:
                self.stopped_early.set()

    def generate(self, messages, max_new_tokens=None, numbers_from=None) -> Generation:
        text = "".join(self.stream(messages)).strip()
        return Generation(text, 1, self.words, self.words * self.delay, self.name)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_full_queue_answers_503_and_a_gone_client_frees_its_slot(corpus):
    fake = SlowFakeGenerator(words=100, delay=0.05)  # 5 s an answer
    settings = with_(corpus.settings, max_queue=1)  # one answering + one waiting
    pool = GeneratorPool(settings, factory=lambda *a, **k: fake)
    app = create_app(settings, generators=pool, embedder=corpus.embedder)
    body = {"question": TORQUE_Q, "mode": "rag"}
    with running(app) as url:
        answered: list[httpx.Response] = []
        gave_up: list[Exception] = []

        def ask() -> None:
            answered.append(httpx.post(f"{url}/v1/query", json=body, timeout=120))

        def ask_impatiently() -> None:
            try:
                httpx.post(f"{url}/v1/query", json=body, timeout=httpx.Timeout(120, read=1.5))
            except httpx.ReadTimeout as exc:
                gave_up.append(exc)

        first = threading.Thread(target=ask)
        first.start()
        assert fake.started.wait(60)
        second = threading.Thread(target=ask_impatiently)
        second.start()
        deadline = time.monotonic() + 30
        while metric(url, "maint_answers_in_flight ") != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)

        full = httpx.post(f"{url}/v1/query", json=body, timeout=30)
        assert full.status_code == 503 and full.json()["error"]["code"] == "queue_full"
        assert int(full.headers["retry-after"]) >= 1
        assert metric(url, "maint_queue_rejections_total ") == 1

        # The waiting client gives up: it leaves the queue while the first is still answered.
        second.join(30)
        assert gave_up
        while metric(url, "maint_answers_in_flight ") != 1:
            assert first.is_alive(), "the waiting request kept its slot"
            time.sleep(0.05)
        first.join(120)
        assert [r.status_code for r in answered] == [200]
        assert answered[0].json()["answer"].startswith("impeller nutca")
        assert metric(url, "maint_answers_in_flight ") == 0

        # A streaming client that gives up while its answer is being generated.
        fake.started.clear()
        t0 = time.monotonic()
        with (
            pytest.raises(httpx.ReadTimeout),
            httpx.Client(timeout=httpx.Timeout(120, read=1)) as c,
        ):
            chat = {
                "model": "maint-rag",
                "stream": True,
                "messages": [{"role": "user", "content": TORQUE_Q}],
            }
            with c.stream("POST", f"{url}/v1/chat/completions", json=chat) as r:
                r.read()
        assert fake.started.is_set()
        while metric(url, "maint_answers_in_flight ") != 0:
            assert time.monotonic() - t0 < fake.words * fake.delay, "slot not freed early"
            time.sleep(0.05)
        assert fake.stopped_early.wait(5)  # generation stopped, not just abandoned


# -- store outages, in a workspace of their own -------------------------------------------


@pytest.fixture(scope="module")
def outage(tmp_path_factory, embedder, model_cache):
    """Its own stores, so stopping them never disturbs the shared corpus workspace."""
    for ws in workspace(tmp_path_factory.mktemp("outage"), embedder, model_cache):
        summary = ws.ingest(GEARBOX)
        assert not summary.failed
        yield ws


def test_store_outages_degrade_or_503_and_recover(outage, pool):
    data_dir = outage.settings.data_dir
    app = create_app(outage.settings, generators=pool, embedder=outage.embedder)
    hybrid = {"question": GEARBOX_Q, "mode": "hybrid"}
    with running(app) as url, httpx.Client(base_url=url, timeout=600) as http:
        assert http.get("/ready").status_code == 200

        # The graph store goes down: answers go on without graph facts, and say so.
        EmbeddedFalkorDB(data_dir).stop()
        try:
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert not ready.json()["checks"]["graph"]["ok"]
            assert ready.json()["checks"]["postgres"]["ok"]
            degraded = http.post("/v1/query", json=hybrid)
            assert degraded.status_code == 200, degraded.text
            assert degraded.json()["facts"] == [] and degraded.json()["citations"]
            assert any("graph store unavailable" in w for w in degraded.json()["warnings"])
        finally:
            EmbeddedFalkorDB(data_dir).start()
        recovered = http.post("/v1/query", json=hybrid).json()
        assert recovered["facts"] and not any("graph" in w for w in recovered["warnings"])
        assert http.get("/ready").status_code == 200

        # PostgreSQL goes down: /ready says so, questions get 503 with a clear message.
        EmbeddedPostgres(data_dir).stop()
        try:
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert "unreachable" in ready.json()["checks"]["postgres"]["detail"]
            down = http.post("/v1/query", json={"question": OFF_TOPIC_Q, "mode": "rag"})
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "store_unavailable"
            assert "PostgreSQL" in down.json()["error"]["message"]
            assert "retry-after" in down.headers
            assert http.get("/health").status_code == 200  # the process is fine
        finally:
            EmbeddedPostgres(data_dir).start()
        back = http.post("/v1/query", json={"question": OFF_TOPIC_Q, "mode": "rag"})
        assert back.status_code == 200 and back.json()["refused"]
        assert http.get("/ready").status_code == 200
