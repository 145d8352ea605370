"""Generators that fail before any model loads: a missing adapter, a dead or silent
OpenAI-compatible endpoint, a missing endpoint setting."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from maint.settings import Settings
from serving.answering.generate import GeneratorError, OpenAIGenerator
from serving.answering.models import load_generator, resolve_adapter
from tests.helpers import MESSAGES


def test_missing_adapter_names_what_exists(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(GeneratorError, match=r"adapters there: none"):
        resolve_adapter(settings, "nope")
    for name in ("pump-v1", "valve-v2"):
        (settings.adapters_dir / name).mkdir(parents=True)
        (settings.adapters_dir / name / "adapter_config.json").write_text("{}")
    (settings.adapters_dir / "not-an-adapter").mkdir()
    with pytest.raises(
        GeneratorError, match=r"'nope' not found.*adapters there: pump-v1, valve-v2"
    ):
        resolve_adapter(settings, "nope")
    with pytest.raises(GeneratorError, match=r"no adapter_config\.json"):
        resolve_adapter(settings, "not-an-adapter")
    assert resolve_adapter(settings, "pump-v1") == (settings.adapters_dir / "pump-v1").resolve()
    with pytest.raises(GeneratorError, match="pump-v1, valve-v2"):
        load_generator(settings, adapter="nope")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_openai_dead_url_fails_fast() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(GeneratorError, match=f"cannot connect to {url}/models"):
        OpenAIGenerator(url)  # asks the server for its model
    with pytest.raises(GeneratorError, match="MAINT_OPENAI_BASE_URL"):
        list(OpenAIGenerator(url, model="m").stream(MESSAGES))
    assert time.perf_counter() - started < 5.0


def test_openai_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        started = time.perf_counter()
        with pytest.raises(GeneratorError, match=r"did not answer within 0.5 s"):
            OpenAIGenerator(url, model="m", timeout=0.5).generate(MESSAGES)
        assert time.perf_counter() - started < 5.0


def test_openai_needs_a_base_url(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="MAINT_OPENAI_BASE_URL"):
        load_generator(Settings(data_dir=tmp_path, generator="openai"))
