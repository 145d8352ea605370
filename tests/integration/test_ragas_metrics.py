"""RAGAS metrics: real ragas, real embedder, no network, no API key.

The judged metrics are exercised against ``FakeJudgeServer``, a FAKE OpenAI-compatible
endpoint on 127.0.0.1 that answers with schema-valid (or deliberately invalid) JSON: it tests
the plumbing (prompts out, parsed judgements back, failures counted), not judging quality.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from eval.ragas_metrics import (
    JUDGED_METRICS,
    OFFLINE_METRICS,
    Judge,
    RagasResult,
    RagasSample,
    ragas_scores,
)

CONTEXT_METRICS = (
    "context_precision",
    "context_recall",
    "id_context_precision",
    "id_context_recall",
)
REFERENCE_METRICS = ("string_similarity", "rouge_l", "semantic_similarity")

GOOD = RagasSample(
    question="What torque does the impeller nut on the P-200 pump get?",
    answer="Tighten the impeller nut to 95 N·m (70 lbf·ft) with medium-strength thread locker [1].",
    contexts=[
        "6.3 Impeller installation. Slide the impeller onto the shaft and fit the key. The "
        "impeller nut is tightened to 95 N·m (70 lbf·ft); apply medium-strength thread locker. "
        "Turn the shaft by hand and check that the impeller does not rub on the casing.",
        "2.1 Safety. Lock out and tag out the motor before any work on the pump.",
    ],
    context_ids=["p200-c12", "p200-c02"],
    reference="The impeller nut is tightened to 95 N·m (70 lbf·ft) with thread locker.",
    reference_contexts=["The impeller nut is tightened to 95 N·m (70 lbf·ft)"],
    reference_context_ids=["p200-c12"],
)
BAD = RagasSample(
    question="How many litres of engine oil does the DG-450 take, including the filters?",
    answer="Fill the cooling system with 12 L of coolant mixed 50/50 with water [1].",
    contexts=[
        "5.2 Cooling system. Coolant capacity 12 L. Use a 50/50 mix of ethylene glycol and "
        "clean water. Check the level daily with the engine cold.",
        "7.4 Air filter. Replace the air filter element every 500 operating hours.",
    ],
    context_ids=["dg450-c30", "dg450-c41"],
    reference="The oil capacity of the sump and filters is 38 L (SAE 15W-40).",
    reference_contexts=["Oil capacity, sump and filters 38 L"],
    reference_context_ids=["dg450-c08"],
)
FT = RagasSample(  # closed book (ft mode): nothing retrieved
    question="What torque does the impeller nut on the P-200 pump get?",
    answer="The impeller nut gets 95 N·m.",
    contexts=[],
    context_ids=[],
    reference=GOOD.reference,
    reference_contexts=GOOD.reference_contexts,
    reference_context_ids=GOOD.reference_context_ids,
)
SAMPLES = [GOOD, BAD, FT]

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture
def offline(monkeypatch) -> list[Any]:
    """No API keys, no proxies, and every connection off this machine refused and recorded."""
    for name in list(os.environ):
        if name.upper().startswith(("OPENAI_", "AZURE_", "ANTHROPIC_", "GOOGLE_", "RAGAS_APP")):
            monkeypatch.delenv(name)
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy"}:
            monkeypatch.delenv(name)
    attempts: list[Any] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create, real_getaddrinfo = socket.create_connection, socket.getaddrinfo

    def local(address: Any) -> bool:
        return isinstance(address, (str, bytes)) or address[0] in LOOPBACK

    def connect(self: socket.socket, address: Any) -> None:
        if self.family != socket.AF_UNIX and not local(address):
            attempts.append(address)
            raise OSError(f"network blocked by the test: {address}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family != socket.AF_UNIX and not local(address):
            attempts.append(address)
            raise OSError(f"network blocked by the test: {address}")
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not local(address):
            attempts.append(address)
            raise OSError(f"network blocked by the test: {address}")
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK and host is not None:
            attempts.append(("dns", host))
            raise socket.gaierror(f"name lookups blocked by the test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


def test_offline_metrics_run_with_no_network_and_no_api_key(offline, embedder):
    with pytest.raises(OSError):  # the guard is live
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    offline.clear()
    ticks: list[int] = []
    t0 = time.perf_counter()
    result = ragas_scores(SAMPLES, embedder, progress=ticks.append)
    elapsed = time.perf_counter() - t0

    import ragas._analytics

    ragas._analytics._analytics_batcher.flush()  # usage events are sent in batches: send now
    assert offline == []  # not one connection or name lookup off this machine
    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true" and ragas._analytics.do_not_track()
    assert elapsed < 30  # milliseconds per sample in practice; generous for a loaded CI box

    assert result.metrics == OFFLINE_METRICS and ticks == [1, 2, 3]
    good, bad, ft = result.per_sample
    for scores in result.per_sample:
        assert set(scores) == set(OFFLINE_METRICS)
        assert all(v is None or 0 <= v <= 1 for v in scores.values())
    for name in OFFLINE_METRICS:
        assert good[name] is not None and bad[name] is not None, name
        assert good[name] > bad[name], name
    assert good["context_precision"] > 0.99 and good["context_recall"] == 1  # evidence in c12
    assert good["id_context_precision"] == 0.5 and good["id_context_recall"] == 1
    assert bad["context_recall"] == 0 and bad["id_context_recall"] == 0

    # Closed book: context metrics do not apply, are None, counted apart and not failures.
    assert all(ft[name] is None for name in CONTEXT_METRICS)
    assert all(ft[name] is not None for name in REFERENCE_METRICS)
    summary = result.summary()
    for name in CONTEXT_METRICS:
        assert summary[name] == {
            "mean": pytest.approx((good[name] + bad[name]) / 2),
            "valid": 2,
            "failed": 0,
            "not_applicable": 1,
        }
    assert summary["semantic_similarity"]["valid"] == 3
    assert result.failures == dict.fromkeys(OFFLINE_METRICS, 0) and result.errors == {}


def test_missing_reference_or_evidence_is_not_applicable(offline, embedder):
    unanswerable = RagasSample(
        question="What is the warranty period of the P-200 pump?",
        answer="The manuals do not say.",
        contexts=GOOD.contexts,
        context_ids=GOOD.context_ids,
        reference="",
        reference_contexts=[],
        reference_context_ids=[],
    )
    result = ragas_scores([unanswerable], embedder)
    assert result.per_sample == [dict.fromkeys(OFFLINE_METRICS)]
    assert result.not_applicable == dict.fromkeys(OFFLINE_METRICS, 1)
    assert all(s["mean"] is None and s["failed"] == 0 for s in result.summary().values())
    assert offline == []


def test_scores_from_inside_a_running_event_loop(embedder):
    async def caller() -> RagasResult:
        return ragas_scores([GOOD], embedder)  # sync API called from async code

    result = asyncio.run(caller())
    assert result.per_sample[0]["context_recall"] == 1


# --- judged metrics against a FAKE judge ------------------------------------------------------


def fake_instance(schema: dict, root: dict) -> Any:
    """A minimal instance of a JSON Schema: required properties filled, one array element,
    first enum value, "fake statement" / 1 / 1.0 / true for scalars."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return fake_instance(target, root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return fake_instance(options[0], root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: fake_instance(props.get(k, {}), root) for k in schema.get("required", props)}
    if kind == "array":
        return [fake_instance(schema.get("items", {}), root)]
    return {"string": "fake statement", "integer": 1, "number": 1.0, "boolean": True}.get(kind)


def schema_in(messages: list[dict]) -> dict | None:
    """The first JSON object with ``properties`` embedded in the prompt's messages."""
    decoder = json.JSONDecoder()
    for message in messages:
        text = message.get("content") or ""
        if not isinstance(text, str):
            continue
        start = text.find("{")
        while start != -1:
            try:
                obj, _ = decoder.raw_decode(text, start)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "properties" in obj:
                return obj
            start = text.find("{", start + 1)
    return None


class FakeJudgeServer:
    """A FAKE OpenAI-compatible judge on 127.0.0.1 for tests, not a model.

    POST /v1/chat/completions answers with a minimal instance of the JSON Schema that ragas
    embeds in its prompt (``mode="valid"``), or with ``not json`` (``mode="invalid"``) to
    exercise failed judgements. Every request body is kept in ``requests``.
    """

    def __init__(self, mode: str = "valid"):
        self.mode = mode
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                schema = schema_in(body.get("messages", []))
                if fake.mode == "valid" and schema is not None:
                    content = json.dumps(fake_instance(schema, schema))
                else:
                    content = "not json"
                reply = json.dumps(
                    {
                        "id": f"fake-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeJudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_judge(request) -> Iterator[FakeJudgeServer]:
    with FakeJudgeServer(request.param) as server:
        yield server


@pytest.mark.parametrize("fake_judge", ["valid"], indirect=True)
def test_judged_metrics_plumbing_with_a_fake_judge(offline, embedder, fake_judge):
    judge = Judge(url=fake_judge.url, model="fake-judge", timeout_s=10)
    t0 = time.perf_counter()
    result = ragas_scores(SAMPLES, embedder, judge)
    assert time.perf_counter() - t0 < 60
    assert offline == []  # only the loopback judge was reached
    assert result.metrics == OFFLINE_METRICS + JUDGED_METRICS
    assert fake_judge.requests and all(r["model"] == "fake-judge" for r in fake_judge.requests)
    assert all(r.get("temperature") == 0 for r in fake_judge.requests)
    good, bad, ft = result.per_sample
    for scores in (good, bad):
        for name in JUDGED_METRICS:
            assert isinstance(scores[name], float) and 0 <= scores[name] <= 1, name
    # The fake supports every statement, so faithfulness and factual correctness are perfect.
    assert good["faithfulness"] == 1 and good["factual_correctness"] == 1
    assert ft["faithfulness"] is None and ft["factual_correctness"] is not None
    assert result.not_applicable["faithfulness"] == 1
    assert all(result.failures[name] == 0 for name in JUDGED_METRICS), result.errors


@pytest.mark.parametrize("fake_judge", ["invalid"], indirect=True)
def test_invalid_judgements_are_none_and_counted(offline, embedder, fake_judge):
    judge = Judge(url=fake_judge.url, model="fake-judge", timeout_s=10, attempts=2)
    result = ragas_scores(SAMPLES, embedder, judge)  # must not raise
    assert offline == []
    assert fake_judge.requests
    for scores in result.per_sample:
        assert all(scores[name] is None for name in JUDGED_METRICS)
        assert scores["semantic_similarity"] is not None  # offline metrics unaffected
    # Every applicable sample failed: faithfulness needs contexts (the ft sample has none).
    assert result.failures == {
        **dict.fromkeys(OFFLINE_METRICS, 0),
        "faithfulness": 2,
        "factual_correctness": 3,
        "answer_relevancy": 3,
    }
    summary = result.summary()
    assert summary["faithfulness"] == {"mean": None, "valid": 0, "failed": 2, "not_applicable": 1}
    assert set(result.errors) == set(JUDGED_METRICS)
