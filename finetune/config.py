"""Training configuration: one dataclass, loadable from YAML, every field overridable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml


@dataclass
class TrainConfig:
    # model
    base_model: str | None = None  # local HF folder; None: the bundled SmolLM2-135M-Instruct
    quantization: Literal["nf4", "none"] = "nf4"  # QLoRA (4-bit NF4) or plain LoRA
    double_quant: bool = True
    compute_dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 CUDA, fp32 CPU
    # LoRA
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    # data
    format: Literal["closed", "raft", "both"] = "both"
    max_seq_len: int = 512
    # optimisation
    learning_rate: float = 2e-4
    lr_schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 10
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs
    batch_size: int = 4  # examples per micro-batch, at most
    batch_tokens: int | None = None  # padded tokens per micro-batch, at most (memory bound)
    grad_accum: int = 1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    optimizer: Literal["adamw", "paged_adamw_8bit"] = "adamw"  # paged: CUDA only
    # memory (measured by benchmarks/memory.py; README "Fine-tuning")
    gradient_checkpointing: bool = False  # recompute each layer in the backward pass
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"  # eager keeps every attention map
    loss_chunk_tokens: int | None = 1024  # answer positions per slice of logits; 0/None: whole
    malloc_trim: bool = True  # CPU, glibc: freed memory goes back to the system every layer
    # evaluation, checkpoints
    eval_every: int = 25
    eval_examples: int = 64  # validation examples per evaluation (all if fewer)
    early_stopping_patience: int = 4  # evaluations without improvement
    save_every: int = 25
    seed: int = 0

    @classmethod
    def load(cls, path: Path | None, **overrides: Any) -> TrainConfig:
        data: dict[str, Any] = {}
        if path is not None:
            data = yaml.safe_load(Path(path).read_text()) or {}
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(data) - known)
            if unknown:
                raise ValueError(
                    f"{path}: unknown field(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(known))}"
                )
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
