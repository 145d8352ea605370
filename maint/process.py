"""Process set-up: what a maint process configures once, before it does any work.

Called by the entry points (the ``maint`` command, ``maint serve``, the benchmarks, the test
suite), never on import: importing a domain type must not change the process's state.
"""

from __future__ import annotations

import logging
import os
import warnings

# Third-party loggers whose messages are noise here, and the level they are set to.
_QUIET_LOGGERS = {
    # bitsandbytes (imported by peft) warns on CPUs with AVX512-bf16 that `pip install
    # kernels` would give a faster 4-bit kernel. That package fetches the kernel from the
    # Hugging Face Hub at run time, which an air-gapped plant cannot do.
    "bitsandbytes.backends.cpu.ops": logging.ERROR,
    # On those CPUs bitsandbytes then asks `kernels` (a transformers dependency) for the
    # kernel; offline, `kernels` warns that it skips the publisher check before failing, and
    # bitsandbytes falls back to its own CPU path (the one the training figures measure).
    "kernels": logging.ERROR,
    # pypdf logs what it repairs or cannot read ("EOF marker not found") with no file name; a
    # damaged file gets maint's own message instead, naming the file and what to do.
    "pypdf": logging.ERROR,
}


def setup() -> None:
    """Set the OpenMP wait policy and quiet third-party loggers; safe to call repeatedly.

    OpenMP threads that spin while waiting collapse torch on a shared 2-core CPU: with the
    embedded database or any other process busy, SmolLM2 fell from 23.5 to 0.5-2 tokens/s
    (minutes per answer). Passive waiting costs ~40 % on an idle machine (~13 tokens/s) but
    never collapses. It must be set before torch is imported; OMP_WAIT_POLICY=ACTIVE in the
    environment wins (a dedicated, otherwise idle machine).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Libraries' tqdm bars on every model load, between maint's own lines: transformers' GGUF
    # conversion (plain tqdm), "Loading weights", "Writing model shards" (its tqdm wrapper,
    # switched by the Hub's variable). maint draws its own progress with rich, never tqdm.
    # Both variables are read when those libraries are imported; set to 0 in the environment,
    # they win.
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    # transformers 5 deprecates a name that peft still calls, on every QLoRA run.
    warnings.filterwarnings(
        "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
    )
