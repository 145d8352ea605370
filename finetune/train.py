"""QLoRA / LoRA training of the generator on the dataset ``finetune.dataset`` builds.

Read top to bottom: load the model (4-bit NF4 by default: float32 compute on CPU, bf16 on
CUDA), wrap it with LoRA, tokenise chat examples with the loss on assistant tokens only, then
a plain loop with gradient accumulation, periodic evaluation, early stopping and checkpoints
that a later run resumes from. The result is a versioned adapter folder under
``DATA_DIR/adapters/NAME`` with its config, data hash, metrics and a loss curve.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import platform
import random
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import yaml

from finetune.config import TrainConfig

IGNORE = -100
CHECKPOINT = "checkpoint"


@dataclass
class TrainResult:
    name: str
    path: Path
    steps: int
    first_train_loss: float | None
    last_train_loss: float | None
    best_eval_loss: float | None
    tokens_per_s: float
    peak_memory_mb: float
    stopped_early: bool
    resumed_from: int | None
    examples: int = 0  # training examples that fit max_seq_len
    skipped_too_long: int = 0  # training examples longer than max_seq_len, not trained on
    history: dict[str, list] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "history"}
        d["path"] = str(self.path)
        return d


# -- data ----------------------------------------------------------------------------------
def read_examples(paths: Sequence[Path]) -> list[list[dict[str, str]]]:
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["messages"])
    return out


def tokenise(tokenizer, messages: list[dict[str, str]], max_len: int) -> dict | None:
    """Token ids of the whole chat; labels only on the assistant's answer (the prompt is
    context, not something to learn to produce). None if it does not fit."""
    prompt = tokenizer.apply_chat_template(
        messages[:-1], add_generation_prompt=True, tokenize=False
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    if len(ids) > max_len or len(ids) <= len(p_ids):
        return None
    labels = [IGNORE] * len(p_ids) + ids[len(p_ids) :]
    return {"input_ids": ids, "labels": labels}


def collate(batch: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, b in enumerate(batch):
        n = len(b["input_ids"])
        ids[i, :n] = torch.tensor(b["input_ids"])
        labels[i, :n] = torch.tensor(b["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def length_grouped_batches(
    lengths: list[int], max_examples: int, max_tokens: int | None, seed: int
) -> list[list[int]]:
    """Batches of example indices for one epoch, deterministic given the seed (so a resumed
    run sees the same data): shuffled, then sorted by length within windows, packed up to
    ``max_examples`` and ``max_tokens`` padded tokens, the batches shuffled again. Short
    closed-book answers are then not padded to a long RAFT context, and a batch of long
    examples stays within memory."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = max_examples * 32
    batches: list[list[int]] = []
    for i in range(0, len(order), window):
        batch: list[int] = []
        for j in sorted(order[i : i + window], key=lambda j: lengths[j]):
            full = len(batch) == max_examples or (
                max_tokens is not None and (len(batch) + 1) * lengths[j] > max_tokens
            )
            if batch and full:
                batches.append(batch)
                batch = []
            batch.append(j)
        if batch:
            batches.append(batch)
    rng.shuffle(batches)
    return batches


# -- model ---------------------------------------------------------------------------------
def compute_dtype(cfg: TrainConfig, cuda: bool) -> torch.dtype:
    if cfg.compute_dtype == "auto":
        return torch.bfloat16 if cuda else torch.float32  # bf16 on these CPUs: 25-30x slower
    if cfg.compute_dtype == "bfloat16" and not cuda:
        raise ValueError(
            "compute_dtype bfloat16 needs CUDA; on CPU use float32 (bf16 is 25-30x slower here)"
        )
    return getattr(torch, cfg.compute_dtype)


def load_model(cfg: TrainConfig, model_path: str, device: str):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    cuda = device.startswith("cuda")
    dtype = compute_dtype(cfg, cuda)
    if cfg.optimizer == "paged_adamw_8bit" and not cuda:
        raise ValueError("optimizer paged_adamw_8bit needs CUDA; use adamw on CPU")
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {
        "local_files_only": True,
        "dtype": dtype if cuda else torch.float32,
        "attn_implementation": cfg.attn_implementation,
    }
    if cfg.quantization == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=cfg.double_quant,
            bnb_4bit_compute_dtype=dtype,
        )
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    if cfg.quantization == "nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model.to(device)
    if cfg.gradient_checkpointing:
        # Non-reentrant: each decoder layer is recomputed in the backward pass without the
        # inputs having to require grad (the reentrant kind needs a hook on the embeddings).
        # transformers 5 renamed gradient_checkpointing_enable, which now warns.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if cfg.malloc_trim and not cuda:
        trim_every_layer(model)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def trim_every_layer(model) -> bool:
    """Hand the memory malloc holds free back to the system before each decoder layer runs
    (forward, and its recomputation in the backward pass); False where there is no glibc or
    the model has no ``layers`` list.

    glibc serves blocks under its mmap threshold from heaps that keep freed memory for reuse,
    and the threshold rises to the size of each freed block, up to 32 MB: after the first
    frees, every activation of a training step comes from the heaps. They fragment and grow,
    and the demo's checkpointed QLoRA step held 5.2 GB where its tensors needed 1.6 GB. With
    ``malloc_trim`` at every layer it held 2.2 GB; a fixed 1 MB mmap threshold (every
    activation on its own mmap) held 1.7 GB but cost 70 % more CPU time, in page faults
    (benchmarks/memory.py, README "Fine-tuning")."""
    if platform.libc_ver()[0] != "glibc":
        return False
    layers = getattr(model.get_decoder(), "layers", None)
    if layers is None:
        return False
    libc = ctypes.CDLL("libc.so.6")

    def trim(*_) -> None:  # returns None: the layer's inputs are left as they are
        libc.malloc_trim(0)

    for layer in layers:
        # On its attention, not the layer itself: a checkpointed layer's recomputation calls
        # the layer's forward directly, past the layer's own hooks.
        getattr(layer, "self_attn", layer).register_forward_pre_hook(trim)
    return True


def make_optimizer(cfg: TrainConfig, model) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "paged_adamw_8bit":
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW8bit(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)


def lr_lambda(cfg: TrainConfig, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / max(1, cfg.warmup_steps)
        progress = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        if cfg.lr_schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        if cfg.lr_schedule == "linear":
            return max(0.0, 1 - progress)
        return 1.0

    return f


# -- the loss ------------------------------------------------------------------------------
def answer_loss(model, batch: dict[str, torch.Tensor], chunk_tokens: int | None) -> torch.Tensor:
    """The summed cross-entropy of the answer tokens (labels not IGNORE, each predicted from
    the position before it): the loss of ``model(**batch)`` times the number of those tokens.

    ``chunk_tokens`` None or 0: the model's own loss, over logits of every position of the
    batch ([tokens x vocabulary] in float32, 400 MB for 2,048 tokens of SmolLM2's 49,152-word
    vocabulary, and as much again for each of the softmax, its gradient and the logits'
    gradient). Otherwise the logits are made from the last hidden state of the answer positions
    only, ``chunk_tokens`` positions at a time, each slice checkpointed: its logits are freed
    after the forward pass and made again in the backward pass, so at most one slice's logits
    exist at a time. Same number up to float rounding (tests/integration/test_finetune_train.py).
    """
    labels = batch["labels"][:, 1:]
    if not chunk_tokens or not _plain_head(model):
        n = int((labels != IGNORE).sum())
        return model(**batch).loss * n
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.get_decoder()(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
    ).last_hidden_state
    keep = labels != IGNORE
    h, y = hidden[:, :-1][keep], labels[keep]
    head = base.get_output_embeddings()

    def slice_loss(h_slice: torch.Tensor, y_slice: torch.Tensor) -> torch.Tensor:
        logits = head(h_slice).float()  # as the model's own loss: float32 logits
        return torch.nn.functional.cross_entropy(logits, y_slice, reduction="sum")

    total = h.new_zeros((), dtype=torch.float32)
    for i in range(0, len(y), chunk_tokens):
        part = (h[i : i + chunk_tokens], y[i : i + chunk_tokens])
        if torch.is_grad_enabled():
            total = total + torch.utils.checkpoint.checkpoint(
                slice_loss, *part, use_reentrant=False
            )
        else:
            total = total + slice_loss(*part)
    return total


def _plain_head(model) -> bool:
    """Whether the model's logits are its output layer applied to the last hidden state and
    nothing more (Llama, Qwen2, Mistral, ...); softcapped or scaled logits take the model's
    own loss."""
    config = model.config
    return not (
        getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None)
    )


@torch.no_grad()
def evaluate(
    model, batches: list[dict[str, torch.Tensor]], device: str, chunk_tokens: int | None = None
) -> float:
    """The mean over batches of each batch's mean answer-token loss."""
    model.eval()
    losses = []
    for b in batches:
        b = {k: v.to(device) for k, v in b.items()}
        n = int((b["labels"][:, 1:] != IGNORE).sum())
        losses.append(answer_loss(model, b, chunk_tokens).item() / n)
    model.train()
    return sum(losses) / len(losses)


# -- the loop ------------------------------------------------------------------------------
def train_step(
    cfg: TrainConfig, model, optimizer, micro: list[dict[str, torch.Tensor]], device: str
) -> tuple[float, int]:
    """One optimiser step over the micro-batches ``micro``: the step's loss (the mean over
    all its answer tokens) and the tokens it read (padding not counted)."""
    # Every answer token weighs the same, however the step's examples were batched.
    targets = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in micro)
    loss_sum, tokens = 0.0, 0
    for batch in micro:
        batch = {k: v.to(device) for k, v in batch.items()}
        loss = answer_loss(model, batch, cfg.loss_chunk_tokens) / targets
        loss.backward()
        loss_sum += loss.item()
        tokens += int(batch["attention_mask"].sum())
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum, tokens


def train(
    cfg: TrainConfig,
    model_path: str,
    train_files: Sequence[Path],
    val_files: Sequence[Path],
    out_dir: Path,
    name: str,
    data_hash: str,
    device: str | None = None,
    resume: bool = True,
    on_step: Callable[[int, int, float | None, float | None], None] | None = None,
) -> TrainResult:
    """Train and write ``out_dir/name``. A run interrupted mid-way leaves
    ``out_dir/name/checkpoint``; calling again with the same name resumes from it."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_model(cfg, model_path, device)

    train_all = [tokenise(tokenizer, m, cfg.max_seq_len) for m in read_examples(train_files)]
    train_set = [t for t in train_all if t]
    val_set = [
        t for m in read_examples(val_files) if (t := tokenise(tokenizer, m, cfg.max_seq_len))
    ]
    if not train_set:
        raise ValueError("no training examples fit max_seq_len; build the dataset first")
    # A fixed sample of every format (the files come closed-book first), batched like training.
    val_set = random.Random(cfg.seed).sample(val_set, min(len(val_set), cfg.eval_examples))
    val_lengths = [len(t["input_ids"]) for t in val_set]
    val_batches = [
        collate([val_set[j] for j in b], tokenizer.pad_token_id)
        for b in length_grouped_batches(val_lengths, cfg.batch_size, cfg.batch_tokens, cfg.seed)
    ]

    lengths = [len(t["input_ids"]) for t in train_set]

    @functools.cache
    def epoch_batches(epoch: int) -> list[list[int]]:
        return length_grouped_batches(lengths, cfg.batch_size, cfg.batch_tokens, cfg.seed + epoch)

    def batch_at(index: int) -> dict[str, torch.Tensor]:
        epoch = 0
        while index >= len(epoch_batches(epoch)):
            index -= len(epoch_batches(epoch))
            epoch += 1
        return collate([train_set[j] for j in epoch_batches(epoch)[index]], tokenizer.pad_token_id)

    steps_per_epoch = math.ceil(len(epoch_batches(0)) / cfg.grad_accum)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))
    optimizer = make_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg, total))
    run_dir = out_dir / name
    ckpt = run_dir / CHECKPOINT
    history: dict[str, list] = {"step": [], "train_loss": [], "eval_step": [], "eval_loss": []}
    state = {"step": 0, "best_eval": None, "bad_evals": 0, "tokens": 0, "seconds": 0.0}
    resumed_from = None
    if resume and (ckpt / "state.json").exists():
        resumed_from = _load_checkpoint(ckpt, model, optimizer, scheduler, state, history)
        if state.get("data_hash", data_hash) != data_hash:
            raise ValueError(
                f"{ckpt} was trained on other data (hash {state['data_hash'][:12]}, now "
                f"{data_hash[:12]}): start over with --fresh, or use another --name"
            )
    state["data_hash"] = data_hash

    model.train()
    stopped_early = False
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    while state["step"] < total:
        t0 = time.perf_counter()
        micro = [batch_at(state["step"] * cfg.grad_accum + i) for i in range(cfg.grad_accum)]
        loss_sum, tokens = train_step(cfg, model, optimizer, micro, device)
        scheduler.step()
        state["tokens"] += tokens
        state["seconds"] += time.perf_counter() - t0
        state["step"] += 1
        step = state["step"]
        history["step"].append(step)
        history["train_loss"].append(loss_sum)

        eval_loss = None
        if val_batches and (step % cfg.eval_every == 0 or step == total):
            eval_loss = evaluate(model, val_batches, device, cfg.loss_chunk_tokens)
            history["eval_step"].append(step)
            history["eval_loss"].append(eval_loss)
            if state["best_eval"] is None or eval_loss < state["best_eval"]:
                state["best_eval"], state["bad_evals"] = eval_loss, 0
                model.save_pretrained(run_dir / "best")
            else:
                state["bad_evals"] += 1
        if on_step:
            on_step(step, total, loss_sum, eval_loss)
        if step % cfg.save_every == 0 or step == total:
            _save_checkpoint(ckpt, model, optimizer, scheduler, state, history)
        if state["bad_evals"] >= cfg.early_stopping_patience:
            stopped_early = True
            break

    # The adapter is the best evaluated one (or the last, without a validation set).
    if (run_dir / "best").exists():
        for f in (run_dir / "best").iterdir():
            shutil.copy2(f, run_dir / f.name)
    else:
        model.save_pretrained(run_dir)
    tokenizer.save_pretrained(run_dir)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.startswith("cuda")
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    result = TrainResult(
        name=name,
        path=run_dir,
        steps=state["step"],
        first_train_loss=history["train_loss"][0] if history["train_loss"] else None,
        last_train_loss=history["train_loss"][-1] if history["train_loss"] else None,
        best_eval_loss=state["best_eval"],
        tokens_per_s=round(state["tokens"] / max(state["seconds"], 1e-9), 1),
        peak_memory_mb=round(peak, 1),
        stopped_early=stopped_early,
        resumed_from=resumed_from,
        examples=len(train_set),
        skipped_too_long=len(train_all) - len(train_set),
        history=history,
    )
    _write_card(run_dir, cfg, model_path, data_hash, device, result)
    return result


# -- checkpoints and the adapter card ------------------------------------------------------
def _save_checkpoint(ckpt: Path, model, optimizer, scheduler, state: dict, history: dict) -> None:
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt"
    )
    (tmp / "state.json").write_text(json.dumps({"state": state, "history": history}))
    shutil.rmtree(ckpt, ignore_errors=True)
    tmp.rename(ckpt)  # a crash mid-save leaves the previous checkpoint intact


def _load_checkpoint(ckpt: Path, model, optimizer, scheduler, state: dict, history: dict) -> int:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
    opt = torch.load(ckpt / "optim.pt", weights_only=False)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    saved = json.loads((ckpt / "state.json").read_text())
    state.update(saved["state"])
    history.update(saved["history"])
    return int(state["step"])


def _write_card(run_dir: Path, cfg, model_path: str, data_hash: str, device: str, r) -> None:
    (run_dir / "train_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    card = {
        **r.to_dict(),
        "base_model": model_path,
        "data_hash": data_hash,
        "device": device,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (run_dir / "metrics.json").write_text(json.dumps({**card, "history": r.history}, indent=2))
    _plot(run_dir / "loss.png", r.history, r.name)


def _plot(path: Path, history: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(history["step"], history["train_loss"], label="train", linewidth=1)
    if history["eval_loss"]:
        ax.plot(history["eval_step"], history["eval_loss"], "o-", label="eval")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
