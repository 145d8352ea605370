"""QLoRA training on the real SmolLM2-135M, on CPU: NF4 weights, float32 compute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from finetune.config import TrainConfig
from finetune.train import (
    answer_loss,
    collate,
    compute_dtype,
    load_model,
    read_examples,
    tokenise,
    train,
)
from maint.settings import Settings
from serving.answering.generate import LocalGenerator
from serving.answering.models import bundled_model_path
from serving.answering.prompt import closed_book_messages

PAIRS = [
    ("What torque does the P-200 impeller nut get?", "95 N·m (70 lbf·ft), lock washer WP-2207-A."),
    ("Which oil filter does the DG-450 use?", "FLT-77210; two are fitted."),
    ("Total oil capacity of the RSC-75?", "38 L."),
    ("Service limit of the CG-90 bevel gear backlash?", "0.35 mm."),
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, model_cache) -> str:
    settings = Settings(data_dir=tmp_path_factory.mktemp("ft"), model_cache_dir=model_cache)
    return str(bundled_model_path(settings))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ft-data")
    lines = [
        json.dumps({"messages": [*closed_book_messages(q), {"role": "assistant", "content": a}]})
        for q, a in PAIRS
    ]
    (folder / "train.jsonl").write_text("\n".join(lines * 2) + "\n")
    (folder / "val.jsonl").write_text("\n".join(lines[:2]) + "\n")
    return folder / "train.jsonl", folder / "val.jsonl"


def _cfg(**kw) -> TrainConfig:
    base = dict(
        max_steps=6,
        batch_size=4,
        learning_rate=2e-3,
        warmup_steps=0,
        eval_every=3,
        save_every=2,
        max_seq_len=192,
        lr_schedule="constant",
        quantization="nf4",
    )
    return TrainConfig(**{**base, **kw})


def test_qlora_steps_reduce_the_loss_and_write_a_versioned_adapter(model_path, data, tmp_path):
    r = train(_cfg(), model_path, [data[0]], [data[1]], tmp_path, "demo", "hash123", device="cpu")
    assert r.steps == 6 and r.last_train_loss < r.first_train_loss
    assert r.best_eval_loss is not None and r.tokens_per_s > 0 and r.peak_memory_mb > 0
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "train_config.yaml",
        "metrics.json",
        "loss.png",
    ):
        assert (r.path / name).is_file(), name
    card = json.loads((r.path / "metrics.json").read_text())
    assert card["data_hash"] == "hash123" and card["base_model"] == model_path
    assert len(card["history"]["train_loss"]) == 6

    base = LocalGenerator(model_path, max_new_tokens=24)
    tuned = LocalGenerator(model_path, r.path, max_new_tokens=24)
    msgs = closed_book_messages(PAIRS[0][0])
    first, second = tuned.generate(msgs).text, tuned.generate(msgs).text
    assert first == second  # greedy: deterministic
    assert first != base.generate(msgs).text  # the adapter changes what the model says


def test_interrupted_run_resumes_from_its_checkpoint(model_path, data, tmp_path):
    first = train(_cfg(max_steps=2), model_path, [data[0]], [data[1]], tmp_path, "r", "h")
    assert first.steps == 2 and (tmp_path / "r" / "checkpoint" / "state.json").is_file()
    resumed = train(_cfg(max_steps=4), model_path, [data[0]], [data[1]], tmp_path, "r", "h")
    assert resumed.resumed_from == 2 and resumed.steps == 4
    assert len(resumed.history["train_loss"]) == 4  # the first two steps' losses were kept


def test_resume_refuses_a_checkpoint_trained_on_other_data(model_path, data, tmp_path):
    train(_cfg(max_steps=1), model_path, [data[0]], [data[1]], tmp_path, "r", "old")
    with pytest.raises(ValueError, match=r"other data.*--fresh"):
        train(_cfg(max_steps=2), model_path, [data[0]], [data[1]], tmp_path, "r", "new")
    fresh = train(
        _cfg(max_steps=1), model_path, [data[0]], [data[1]], tmp_path, "r", "new", resume=False
    )
    assert fresh.resumed_from is None and fresh.steps == 1


def test_chunked_loss_and_checkpointing_leave_the_loss_and_gradients_as_they_were(model_path, data):
    """The loss in slices of answer positions and the recomputed layers are memory savings
    only: on a padded batch of the real QLoRA model, the same loss as the model's own and the
    same LoRA gradients; and checkpointing, as the config turns it on, really recomputes (each
    decoder layer runs twice)."""
    cfg = _cfg(lora_dropout=0.0, gradient_checkpointing=True)
    model, tokenizer = load_model(cfg, model_path, "cpu")
    model.train()
    g = torch.Generator().manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # B starts at zero, which would leave A's gradients zero
            p.data.copy_(torch.randn(p.shape, generator=g) * 0.02)
    examples = [tokenise(tokenizer, m, 192) for m in read_examples([data[0]])[:4]]
    batch = collate(examples, tokenizer.pad_token_id)
    assert (batch["attention_mask"] == 0).any()  # padded: the masks are part of the test
    answer_tokens = int((batch["labels"][:, 1:] != -100).sum())
    assert 4 < answer_tokens < batch["attention_mask"].sum() / 2
    # A checkpointed layer's recomputation calls its forward directly, past its own hooks,
    # and stops once it has what the backward pass needs, before the MLP's forward returns.
    layers = model.get_base_model().get_decoder().layers
    assert all(layer.self_attn._forward_pre_hooks for layer in layers)  # malloc_trim, on CPU
    mlp = layers[3].mlp
    calls = []
    hook = mlp.register_forward_pre_hook(lambda *_: calls.append(1))

    def run(loss_fn, layer_runs: int | None = None) -> tuple[float, dict[str, torch.Tensor]]:
        model.zero_grad()
        calls.clear()
        loss = loss_fn()
        loss.backward()
        assert layer_runs is None or len(calls) == layer_runs
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return loss.item(), grads

    checkpointed = run(lambda: answer_loss(model, batch, 5), layer_runs=2)  # again in backward
    model.activation_checkpointing_disable()
    own, own_grads = run(lambda: model(**batch).loss * answer_tokens, layer_runs=1)
    hook.remove()

    def same(loss: float, grads: dict[str, torch.Tensor]) -> None:
        assert loss == pytest.approx(own, rel=1e-5)
        for name, grad in grads.items():  # float32 sums in another order
            error = torch.linalg.norm(grad - own_grads[name]) / torch.linalg.norm(own_grads[name])
            assert error < 1e-4, (name, float(error))

    same(*checkpointed)
    for chunk in (0, 5, 1024):  # the model's own loss; several slices; one
        same(*run(lambda c=chunk: answer_loss(model, batch, c)))
    with torch.no_grad():  # evaluation: no graph, same loss
        assert answer_loss(model, batch, 5).item() == pytest.approx(own, rel=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (bf16 compute, paged AdamW)")
def test_cuda_settings(model_path, data, tmp_path):
    assert compute_dtype(TrainConfig(), cuda=True) == torch.bfloat16
    cfg = _cfg(max_steps=2, optimizer="paged_adamw_8bit", compute_dtype="bfloat16")
    r = train(cfg, model_path, [data[0]], [data[1]], tmp_path, "cuda", "h", device="cuda")
    assert r.steps == 2
