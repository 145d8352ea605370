"""Generators with real weights: the bundled SmolLM2 in-process, and the OpenAI-compatible client
against a small local server that is itself backed by that model (so the whole path is real).

The GGUF is converted once per session into a temporary data dir; every test reuses it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from maint.settings import Settings
from serving.answering.generate import Generation, GeneratorError, LocalGenerator, OpenAIGenerator
from serving.answering.models import (
    BUNDLED_MODEL,
    bundled_model_path,
    load_generator,
)
from tests.helpers import MESSAGES

NEW_TOKENS = 24
API_KEY = "test-key"


@pytest.fixture(scope="session")
def gen_settings(tmp_path_factory, model_cache) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("gen"),
        model_cache_dir=model_cache,
        max_new_tokens=NEW_TOKENS,
    )


@pytest.fixture(scope="session")
def converted(gen_settings: Settings) -> tuple[Path, float]:
    started = time.perf_counter()
    path = bundled_model_path(gen_settings)
    return path, time.perf_counter() - started


@pytest.fixture(scope="session")
def local(gen_settings: Settings, converted) -> LocalGenerator:
    generator = load_generator(gen_settings)
    assert isinstance(generator, LocalGenerator)
    return generator


@pytest.fixture(scope="session")
def lora(gen_settings: Settings, converted) -> Path:
    """An untrained LoRA on q/v with non-zero B, so it must change the logits once loaded."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(converted[0], dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    with warnings.catch_warnings():  # peft 0.21 calls an API transformers 5 deprecated
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        model = get_peft_model(base, config)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    out = gen_settings.adapters_dir / "tiny-lora"
    model.save_pretrained(out)
    return out


# -- local backend ----------------------------------------------------------------------------


def test_bundled_model_converted_once_and_reused(gen_settings: Settings, converted) -> None:
    path, _ = converted
    assert path == gen_settings.models_dir / BUNDLED_MODEL
    weights = path / "model.safetensors"
    before = (path.stat().st_ino, weights.stat().st_mtime_ns)

    started = time.perf_counter()
    assert bundled_model_path(gen_settings) == path
    assert time.perf_counter() - started < 1.0  # no reconversion
    assert (path.stat().st_ino, weights.stat().st_mtime_ns) == before
    # the temporary conversion folder was renamed into place, nothing half-written is left
    # (the models dir is shared: the int8 embedder's export may sit beside it)
    leftovers = [
        p.name for p in gen_settings.models_dir.iterdir() if p.is_dir() and BUNDLED_MODEL in p.name
    ]
    assert leftovers == [BUNDLED_MODEL]
    assert "<|im_start|>" in (path / "chat_template.jinja").read_text()


def test_chat_answer(local: LocalGenerator) -> None:
    assert local.name == BUNDLED_MODEL and local.adapter is None
    gen = local.generate(MESSAGES)
    assert isinstance(gen, Generation)
    assert gen.text and gen.text == gen.text.strip()
    assert "<|im_end|>" not in gen.text and "<|im_start|>" not in gen.text
    assert 0 < gen.completion_tokens <= NEW_TOKENS
    assert gen.prompt_tokens > local.count_tokens(MESSAGES[1]["content"])
    assert gen.seconds > 0 and gen.model == BUNDLED_MODEL


def test_numbers_outside_the_quoted_lines_cannot_be_written(local: LocalGenerator) -> None:
    """The decoding constraint: told to copy a value the lines do not hold, the model cannot
    write any number but the lines' own."""
    import re

    from serving.answering.drafts import allowed_words

    copy_me = [
        {"role": "system", "content": "Repeat the user's sentence exactly."},
        {"role": "user", "content": "Tighten the casing bolts to 150 N·m and the nut to 42 N·m."},
    ]
    free = local.generate(copy_me, max_new_tokens=30).text
    assert "150" in free  # unconstrained, the model copies the number
    lines = ["Tighten the impeller nut to 95 N·m (70 lbf·ft)."]
    held = local.generate(copy_me, max_new_tokens=30, numbers_from=lines).text
    allowed = allowed_words(lines)
    written = [w.rstrip(".,") for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9.,/\-]*", held)]
    assert all(w in allowed for w in written if any(c.isdigit() for c in w)), held
    assert "150" not in held and "42" not in held


def test_greedy_is_deterministic(local: LocalGenerator) -> None:
    assert local.generate(MESSAGES).text == local.generate(MESSAGES).text


def test_stream_joins_to_generate(local: LocalGenerator) -> None:
    pieces = list(local.stream(MESSAGES))
    assert len(pieces) > 1
    assert "".join(pieces) == local.generate(MESSAGES).text


def test_stream_closed_early_stops_generation(local: LocalGenerator) -> None:
    stream = local.stream(MESSAGES, max_new_tokens=400)
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 5.0
    assert local.generate(MESSAGES, max_new_tokens=4).completion_tokens <= 4  # lock released


def test_long_prompt_is_cut_from_the_left(local: LocalGenerator, monkeypatch, caplog) -> None:
    monkeypatch.setattr(local, "context_length", 64)  # SmolLM2's real 8192 would take minutes
    long = [{"role": "user", "content": "check the seals " * 100 + "What is checked?"}]
    with caplog.at_level(logging.WARNING, logger="serving.answering.generate"):
        gen = local.generate(long, max_new_tokens=8)
    assert gen.prompt_tokens == 64 - 8
    assert "keeping the last 56" in caplog.text


def test_adapter_loads_and_changes_the_model(
    gen_settings: Settings, local: LocalGenerator, lora: Path
) -> None:
    import torch

    by_name = load_generator(gen_settings, adapter="tiny-lora")
    assert isinstance(by_name, LocalGenerator)
    assert by_name.name == f"{BUNDLED_MODEL}+adapter:tiny-lora"
    assert by_name.adapter == str(lora.resolve())
    assert by_name.generate(MESSAGES).model == by_name.name

    ids = local.tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.inference_mode():
        base_logits = local.model(input_ids=ids).logits
        lora_logits = by_name.model(input_ids=ids).logits
    assert not torch.allclose(base_logits, lora_logits, atol=1e-3)

    # a path works too, settings.adapter is the default, and use_adapter=False ignores it
    with_default = gen_settings.model_copy(update={"adapter": str(lora)})
    assert load_generator(with_default).adapter == str(lora.resolve())
    assert load_generator(with_default, use_adapter=False).adapter is None


# -- OpenAI-compatible backend ----------------------------------------------------------------


class _Server:
    """An OpenAI-compatible server on 127.0.0.1 backed by a real LocalGenerator."""

    def __init__(self, generator: LocalGenerator):
        self.generator = generator
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                outer.requests.append({"path": self.path, "auth": self.headers["Authorization"]})
                if self.headers["Authorization"] != f"Bearer {API_KEY}":
                    self._json(401, {"error": {"message": "invalid api key"}})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path != "/v1/models":
                    self._json(404, {"error": {"message": "no such route"}})
                    return
                self._json(200, {"object": "list", "data": [{"id": outer.generator.name}]})

            def do_POST(self) -> None:
                if not self._authorised():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests[-1]["body"] = body
                if body["model"] == "broken":
                    data = b"<html>not json</html>"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if body["model"] != outer.generator.name:
                    self._json(404, {"error": {"message": f"model {body['model']} not found"}})
                    return
                args = (body["messages"], body["max_tokens"])
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in outer.generator.stream(*args):
                        chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                gen = outer.generator.generate(*args)
                self._json(
                    200,
                    {
                        "model": gen.model,
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": gen.text}}
                        ],
                        "usage": {
                            "prompt_tokens": gen.prompt_tokens,
                            "completion_tokens": gen.completion_tokens,
                        },
                    },
                )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(local: LocalGenerator) -> Iterator[_Server]:
    with _Server(local) as srv:
        yield srv


def _openai_settings(base: Settings, url: str, **kw) -> Settings:
    update = {"generator": "openai", "openai_base_url": url, "openai_api_key": API_KEY, **kw}
    return base.model_copy(update=update)


def test_openai_generate_gives_the_models_text(
    gen_settings: Settings, local: LocalGenerator, server: _Server
) -> None:
    remote = load_generator(_openai_settings(gen_settings, server.url))
    assert isinstance(remote, OpenAIGenerator)
    assert remote.name == BUNDLED_MODEL  # the server's first model
    expected = local.generate(MESSAGES)
    gen = remote.generate(MESSAGES)
    assert gen.text == expected.text and gen.text
    assert (gen.prompt_tokens, gen.completion_tokens) == (
        expected.prompt_tokens,
        expected.completion_tokens,
    )
    assert gen.model == BUNDLED_MODEL
    sent = server.requests[-1]["body"]
    assert sent["max_tokens"] == NEW_TOKENS and sent["temperature"] == 0.0 and sent["seed"] == 0
    assert {r["auth"] for r in server.requests} == {f"Bearer {API_KEY}"}


def test_openai_stream_gives_the_models_text(
    gen_settings: Settings, local: LocalGenerator, server: _Server
) -> None:
    remote = load_generator(_openai_settings(gen_settings, server.url, openai_model=BUNDLED_MODEL))
    pieces = list(remote.stream(MESSAGES))
    assert len(pieces) > 1
    assert "".join(pieces) == local.generate(MESSAGES).text
    assert server.requests[-1]["body"]["stream"] is True


def test_openai_errors_say_what_to_check(gen_settings: Settings, server: _Server) -> None:
    wrong_key = _openai_settings(gen_settings, server.url, openai_api_key="wrong")
    with pytest.raises(GeneratorError, match=r"HTTP 401.*MAINT_OPENAI_API_KEY"):
        load_generator(wrong_key).generate(MESSAGES)

    # an adapter is sent as the model name, as vLLM serves LoRA adapters
    adapter = load_generator(_openai_settings(gen_settings, server.url), adapter="pump-lora")
    assert adapter.adapter == "pump-lora" and adapter.name == "pump-lora"
    with pytest.raises(GeneratorError, match=r"HTTP 404.*MAINT_OPENAI_MODEL"):
        adapter.generate(MESSAGES)
    assert server.requests[-1]["body"]["model"] == "pump-lora"

    broken = load_generator(_openai_settings(gen_settings, server.url, openai_model="broken"))
    with pytest.raises(GeneratorError, match=r"malformed response from http://127\.0\.0\.1"):
        broken.generate(MESSAGES)
