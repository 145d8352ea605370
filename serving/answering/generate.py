"""Text generators behind one small interface: a local Hugging Face model or an OpenAI endpoint.

``LocalGenerator`` runs a causal LM in-process (CPU, float32), by default the bundled
SmolLM2-135M-Instruct (its files: ``serving.answering.models``). ``OpenAIGenerator`` talks to
any OpenAI-compatible server (vLLM, Ollama, llama.cpp) with httpx. Nothing is downloaded at
run time: local models load with ``local_files_only``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from maint.errors import MaintError

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

DEFAULT_TIMEOUT_S = 120.0


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str  # what answered, e.g. "SmolLM2-135M-Instruct+adapter:NAME"


class GeneratorError(MaintError):
    """A model could not be loaded or an endpoint not used; the message says what to do."""


class Generator(Protocol):
    name: str  # model description for output
    adapter: str | None  # adapter in use (a path locally, a served name remotely), None if none

    def generate(
        self,
        messages: list[Message],
        max_new_tokens: int | None = None,
        numbers_from: Sequence[str] | None = None,
    ) -> Generation:
        """The whole answer, with token counts and timing. With ``numbers_from``, a number can
        only be written as one standing in those texts: enforced while decoding where the
        backend allows it (local models), else checked by the caller afterwards."""

    def stream(self, messages: list[Message], max_new_tokens: int | None = None) -> Iterator[str]:
        """Text pieces as produced; joined, they equal ``generate(...).text``."""

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text``, for context budgets."""


def _strip_stream(pieces: Iterable[str]) -> Iterator[str]:
    """Drop leading and trailing whitespace from a stream, so it joins to the stripped text."""
    started = False
    pending = ""  # whitespace held back until more text shows it is not trailing
    for piece in pieces:
        if not started:
            piece = piece.lstrip()
            if not piece:
                continue
            started = True
        text = pending + piece
        body = text.rstrip()
        pending = text[len(body) :]
        if body:
            yield body


# -- local backend --------------------------------------------------------------------------


class LocalGenerator:
    """A Hugging Face causal LM in this process, float32 on CPU, optionally with a PEFT adapter.

    Greedy (reproducible) when ``temperature`` is 0; otherwise sampled from ``seed``. Calls are
    serialised: one model instance generates one answer at a time.
    """

    def __init__(
        self,
        model_path: str | Path,
        adapter: str | Path | None = None,
        *,
        name: str | None = None,
        max_new_tokens: int = 160,
        temperature: float = 0.0,
        seed: int = 0,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(model_path), local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise GeneratorError(
                f"model {model_path!s} could not be loaded from local files ({exc}); set "
                "MAINT_MODEL to a local Hugging Face model folder (nothing is downloaded)"
            ) from exc
        if not self.tokenizer.chat_template:
            raise GeneratorError(
                f"model {model_path!s} has no chat template; use an instruct/chat model"
            )
        base_name = name or Path(str(model_path)).name
        self.adapter: str | None = None
        if adapter is not None:
            model = self._with_adapter(model, Path(adapter))
            self.adapter = str(adapter)
            base_name = f"{base_name}+adapter:{Path(adapter).name}"
        self.name = base_name
        self.model = model.eval()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.context_length = self._context_length()
        self._lock = threading.Lock()

    @staticmethod
    def _with_adapter(model: Any, adapter: Path) -> Any:
        from peft import PeftModel

        try:
            with warnings.catch_warnings():  # peft 0.21 calls an API transformers 5 deprecated
                warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
                peft_model = PeftModel.from_pretrained(model, str(adapter))
        except Exception as exc:
            raise GeneratorError(
                f"adapter {adapter} could not be loaded onto the model ({exc}); was it trained "
                "for this base model?"
            ) from exc
        # LoRA merged into the weights costs nothing per token; other adapter types stay wrapped.
        if peft_model.peft_config["default"].peft_type == "LORA":
            return peft_model.merge_and_unload()
        return peft_model

    def _context_length(self) -> int:
        config = self.model.config
        limits = [getattr(config, "max_position_embeddings", None)]
        tokenizer_max = getattr(self.tokenizer, "model_max_length", None)
        if tokenizer_max and tokenizer_max < 1_000_000:  # HF's "unset" is a huge sentinel
            limits.append(tokenizer_max)
        known = [int(x) for x in limits if x]
        return min(known) if known else 2048

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def _prompt_ids(self, messages: list[Message], max_new_tokens: int) -> Any:
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        budget = max(1, self.context_length - max_new_tokens)
        if ids.shape[1] > budget:
            logger.warning(
                "prompt of %d tokens exceeds %s's context (%d, with %d for the answer); "
                "keeping the last %d",
                ids.shape[1],
                self.name,
                self.context_length,
                max_new_tokens,
                budget,
            )
            ids = ids[:, -budget:]
        return ids

    def _generate_kwargs(self, messages: list[Message], max_new_tokens: int | None) -> dict:
        new = min(max_new_tokens or self.max_new_tokens, self.context_length - 1)
        ids = self._prompt_ids(messages, new)
        kwargs: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": self._torch.ones_like(ids),
            "max_new_tokens": new,
            "pad_token_id": self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id,
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    def _run(self, kwargs: dict) -> Any:
        with self._lock, self._torch.inference_mode():
            if kwargs["do_sample"]:
                self._torch.manual_seed(self.seed)
            return self.model.generate(**kwargs)

    def generate(
        self,
        messages: list[Message],
        max_new_tokens: int | None = None,
        numbers_from: Sequence[str] | None = None,
    ) -> Generation:
        kwargs = self._generate_kwargs(messages, max_new_tokens)
        prompt_len = kwargs["input_ids"].shape[1]
        if numbers_from is not None:
            from transformers import LogitsProcessorList

            from serving.answering.drafts import NumberConstraint

            constraint = NumberConstraint(self.tokenizer, numbers_from, prompt_len)
            kwargs["logits_processor"] = LogitsProcessorList([constraint])
        started = time.perf_counter()
        output = self._run(kwargs)
        seconds = time.perf_counter() - started
        new_ids = output[0, prompt_len:]
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
        return Generation(text, prompt_len, int(new_ids.shape[0]), seconds, self.name)

    def stream(self, messages: list[Message], max_new_tokens: int | None = None) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        kwargs = self._generate_kwargs(messages, max_new_tokens)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        failure: list[BaseException] = []
        torch = self._torch

        class _Cancelled(StoppingCriteria):
            """Ends generation early when the reader stops reading."""

            def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

        kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([_Cancelled()]))

        def work() -> None:
            try:
                self._run(kwargs)
            except BaseException as exc:  # surfaced in the reader's thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="maint-generate", daemon=True)
        thread.start()
        try:
            yield from _strip_stream(streamer)
        finally:
            cancel.set()
            thread.join()
        if failure:
            error = failure[0]
            raise GeneratorError(f"{self.name} failed while generating: {error}") from error


# -- OpenAI-compatible backend --------------------------------------------------------------


class OpenAIGenerator:
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server).

    The model is ``model``, or the server's first from ``GET {base_url}/models``, asked when
    constructed, so a wrong URL fails at load time as a missing local model does. An ``adapter``
    is sent as the model name: vLLM serves each LoRA adapter under its own model name
    (``--lora-modules NAME=PATH``). ``count_tokens`` only approximates (about four characters a
    token) since the server's tokenizer is not at hand; token counts of answers come from the
    response's ``usage`` when the server reports it, else from that estimate.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        adapter: str | None = None,
        max_new_tokens: int = 160,
        temperature: float = 0.0,
        seed: int = 0,
        timeout: float = DEFAULT_TIMEOUT_S,
    ):
        self.base_url = base_url.rstrip("/")
        self.adapter = adapter
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # A short connect timeout: a wrong URL should fail fast, a slow answer may take long.
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
        )
        self.name: str = adapter or model or self._first_model()

    def close(self) -> None:
        self._client.close()

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1  # approximation, see the class docstring

    @contextlib.contextmanager
    def _errors(self, url: str) -> Iterator[None]:
        """Turn transport and format failures into one GeneratorError saying what to check."""
        try:
            yield
        except GeneratorError:
            raise
        except httpx.ConnectError as exc:
            raise GeneratorError(
                f"cannot connect to {url} ({exc}); is the server running? "
                "check MAINT_OPENAI_BASE_URL (e.g. http://localhost:8000/v1)"
            ) from exc
        except httpx.TimeoutException as exc:
            raise GeneratorError(
                f"{url} did not answer within {self.timeout:g} s ({type(exc).__name__}); "
                "is the server overloaded, or the URL wrong?"
            ) from exc
        except httpx.HTTPError as exc:
            raise GeneratorError(f"request to {url} failed: {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(
                f"malformed response from {url} ({type(exc).__name__}: {exc}); "
                "is it an OpenAI-compatible endpoint?"
            ) from exc

    @staticmethod
    def _check(response: httpx.Response, url: str) -> None:
        if response.status_code == 200:
            return
        body = response.read().decode("utf-8", "replace")[:300]
        hint = (
            "check MAINT_OPENAI_API_KEY"
            if response.status_code in (401, 403)
            else "check MAINT_OPENAI_MODEL (or the adapter name) and MAINT_OPENAI_BASE_URL"
        )
        raise GeneratorError(f"{url} answered HTTP {response.status_code}: {body}; {hint}")

    def _first_model(self) -> str:
        url = f"{self.base_url}/models"
        with self._errors(url):
            response = self._client.get(url)
            self._check(response, url)
            models = response.json()["data"]
            if not models:
                raise GeneratorError(f"{url} lists no models; set MAINT_OPENAI_MODEL")
            return str(models[0]["id"])

    def _payload(self, messages: list[Message], max_new_tokens: int | None, stream: bool) -> dict:
        return {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_new_tokens or self.max_new_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": stream,
        }

    def generate(
        self,
        messages: list[Message],
        max_new_tokens: int | None = None,
        numbers_from: Sequence[str] | None = None,  # a server cannot take it: checked after
    ) -> Generation:
        url = f"{self.base_url}/chat/completions"
        payload = self._payload(messages, max_new_tokens, stream=False)
        started = time.perf_counter()
        with self._errors(url):
            response = self._client.post(url, json=payload)
            self._check(response, url)
            data = response.json()
            text = (data["choices"][0]["message"].get("content") or "").strip()
            usage = data.get("usage") or {}
            prompt = usage.get("prompt_tokens")
            completion = usage.get("completion_tokens")
            answered_by = str(data.get("model") or payload["model"])
        if prompt is None:
            prompt = sum(self.count_tokens(m.get("content", "")) for m in messages)
        if completion is None:
            completion = self.count_tokens(text)
        seconds = time.perf_counter() - started
        return Generation(text, int(prompt), int(completion), seconds, answered_by)

    def stream(self, messages: list[Message], max_new_tokens: int | None = None) -> Iterator[str]:
        yield from _strip_stream(self._sse(messages, max_new_tokens))

    def _sse(self, messages: list[Message], max_new_tokens: int | None) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        payload = self._payload(messages, max_new_tokens, stream=True)
        with self._errors(url), self._client.stream("POST", url, json=payload) as response:
            self._check(response, url)
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event: lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    raise GeneratorError(f"{url} reported an error mid-stream: {event['error']}")
                for choice in event.get("choices", []):
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece
