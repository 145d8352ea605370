"""maint: shared settings and domain types for the maintenance assistant."""

import logging
import os

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

__version__ = "0.1.0"
