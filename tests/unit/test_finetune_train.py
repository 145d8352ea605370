"""Training set-up that needs no model: batching, device settings, the YAML config."""

from __future__ import annotations

import pytest
import torch

from finetune.config import TrainConfig
from finetune.train import compute_dtype, length_grouped_batches
from tests.helpers import ROOT


def test_length_grouped_batches_cover_every_example_within_the_token_budget():
    lengths = [100 + (i * 37) % 1300 for i in range(500)]  # closed-book and RAFT-like lengths
    batches = length_grouped_batches(lengths, max_examples=16, max_tokens=2048, seed=3)
    assert sorted(j for b in batches for j in b) == list(range(500))  # each once per epoch
    for b in batches:
        assert len(b) <= 16
        assert len(b) == 1 or len(b) * max(lengths[j] for j in b) <= 2048
    padded = sum(len(b) * max(lengths[j] for j in b) for b in batches)
    assert padded < 1.1 * sum(lengths)  # grouped by length: little padding
    assert batches == length_grouped_batches(lengths, 16, 2048, seed=3)  # resume sees the same
    assert batches != length_grouped_batches(lengths, 16, 2048, seed=4)
    single = length_grouped_batches([3000, 10], max_examples=4, max_tokens=2048, seed=0)
    assert sorted(map(len, single)) == [1, 1]  # an example over the budget still trains alone


def test_cpu_refuses_cuda_only_settings():
    assert compute_dtype(TrainConfig(), cuda=False) == torch.float32
    with pytest.raises(ValueError, match=r"bf16|bfloat16"):
        compute_dtype(TrainConfig(compute_dtype="bfloat16"), cuda=False)


def test_config_yaml_and_overrides(tmp_path):
    shipped = ROOT / "finetune" / "configs"
    for path in shipped.glob("*.yaml"):
        TrainConfig.load(path)
    cfg = TrainConfig.load(shipped / "smollm2-135m.yaml", max_steps=7)
    assert cfg.max_steps == 7 and cfg.quantization == "nf4"
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora_rank: 8\n")
    with pytest.raises(ValueError, match=r"unknown field.*lora_rank"):
        TrainConfig.load(bad)
