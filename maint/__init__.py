"""maint: shared settings and domain types for the maintenance assistant."""

import logging
import os
import warnings

# OpenMP threads that spin while waiting collapse torch on a shared 2-core CPU: with the
# embedded database or any other process busy, SmolLM2 fell from 23.5 to 0.5-2 tokens/s
# (minutes per answer). Passive waiting costs ~40 % on an idle machine (~13 tokens/s) but
# never collapses. Set here, before anything imports torch; OMP_WAIT_POLICY=ACTIVE in the
# environment wins (a dedicated, otherwise idle machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# bitsandbytes (imported by peft) warns on CPUs with AVX512-bf16 that `pip install kernels`
# would give a faster 4-bit kernel. That package fetches the kernel from the Hugging Face Hub at
# run time, which an air-gapped plant cannot do: the hint is noise on every command here.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
# On those CPUs bitsandbytes then asks `kernels` (a transformers dependency) for that kernel;
# offline, `kernels` warns that it skips the publisher check before failing, and bitsandbytes
# falls back to its own CPU path (the path measured for the README's training figures).
logging.getLogger("kernels").setLevel(logging.ERROR)
# transformers' and the Hub's tqdm bars (GGUF conversion, "Loading weights", "Writing model
# shards") on every model load, between maint's own lines. Read when huggingface_hub is
# imported, so set before that; HF_HUB_DISABLE_PROGRESS_BARS=0 in the environment wins.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# transformers 5 deprecates a name that peft still calls, on every QLoRA run.
warnings.filterwarnings(
    "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
)

__version__ = "0.1.0"
