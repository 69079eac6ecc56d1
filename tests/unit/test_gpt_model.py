"""tools/training/gpt_model.py: the plain-torch GPT-2 is transformers' GPT-2, number for number."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tools.training.gpt import GPTTrainConfig, build_model, make_model_config, save_model_dir
from tools.training.gpt_model import MiniGPT2, gpt2_root, logits


@pytest.mark.parametrize("activation", ["gelu", "gelu_pytorch_tanh"])
def test_mini_model_saves_a_dir_transformers_loads_to_the_same_logits(
    activation: str, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    config = make_model_config(GPTTrainConfig(n_layer=2, n_head=2, n_embd=32, block_size=16), 20, 0, 1)
    config.activation_function = activation
    mini = MiniGPT2(config).eval()
    save_model_dir(mini, tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(str(tmp_path)).eval()
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in mini.named_parameters()]
    x = torch.randint(20, (3, 16))
    with torch.no_grad():
        assert torch.equal(mini(x), loaded(input_ids=x).logits)
    assert (tmp_path / "generation_config.json").exists()


def test_fast_forward_of_a_transformers_gpt2_matches_its_own(tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    hf = build_model(GPTTrainConfig(n_layer=2, n_head=2, n_embd=32, block_size=16), 20).eval()
    x = torch.randint(20, (2, 16))
    with torch.no_grad():
        assert torch.equal(logits(gpt2_root(hf), x), hf(input_ids=x).logits)
        lora = get_peft_model(hf, LoraConfig(r=2, target_modules=["c_attn"], init_lora_weights=False)).eval()
        root = gpt2_root(lora)
        assert root is not None and torch.allclose(logits(root, x), lora(input_ids=x).logits, atol=1e-6)


def test_unusual_gpt2_configs_are_left_to_transformers() -> None:
    config = make_model_config(GPTTrainConfig(n_layer=1, n_head=2, n_embd=32, block_size=16), 20)
    config.add_cross_attention = True
    with pytest.raises(ValueError, match="plain GPT-2"):
        MiniGPT2(config)
    assert gpt2_root(torch.nn.Linear(2, 2)) is None
