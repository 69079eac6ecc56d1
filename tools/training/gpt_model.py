"""GPT-2 as a plain torch module, and one fast forward pass for it and for transformers' GPT-2.

Why not just ``GPT2LMHeadModel``: a training process that imports transformers' model code pays
about 5 s of CPU for it on this machine (torch.distributed, dynamo, sympy and scipy come along),
and its forward wraps the few tensor ops of a small model in layers of Python. For a job of a
couple of minutes both showed (issue 15). ``MiniGPT2`` has ``GPT2LMHeadModel``'s exact parameter
names, shapes (Conv1D weights are (in, out)) and order, so its state dict is a GPT-2 checkpoint:
``save_hf_dir`` writes a normal model directory that ``AutoModelForCausalLM`` loads, and a
checkpoint of either model resumes into the other. ``logits`` runs both the same way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = "model.safetensors"


class Conv1D(nn.Module):
    """transformers' ``Conv1D``: ``x @ weight + bias`` with ``weight`` stored (in, out)."""

    def __init__(self, n_out: int, n_in: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return out.view(*x.shape[:-1], self.weight.size(1))


class Attention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, attn_pdrop: float, resid_pdrop: float) -> None:
        super().__init__()
        self.split_size, self.head_dim = n_embd, n_embd // n_head
        self.scaling = self.head_dim**-0.5
        self.c_attn = Conv1D(3 * n_embd, n_embd)
        self.c_proj = Conv1D(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(attn_pdrop)
        self.resid_dropout = nn.Dropout(resid_pdrop)


ACTIVATIONS = {"gelu": "none", "gelu_pytorch_tanh": "tanh"}  # transformers' name -> F.gelu's


class MLP(nn.Module):
    def __init__(self, n_embd: int, pdrop: float, activation: str) -> None:
        super().__init__()
        self.c_fc = Conv1D(4 * n_embd, n_embd)
        self.c_proj = Conv1D(n_embd, 4 * n_embd)
        self.dropout = nn.Dropout(pdrop)
        self.approximate = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate)))


class Block(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.attn = Attention(c.n_embd, c.n_head, c.attn_pdrop, c.resid_pdrop)
        self.ln_2 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.mlp = MLP(c.n_embd, c.resid_pdrop, c.activation_function)


class Body(nn.Module):
    def __init__(self, c: Any) -> None:
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.n_positions, c.n_embd)
        self.drop = nn.Dropout(c.embd_pdrop)
        self.h = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)


class MiniGPT2(nn.Module):
    """``GPT2LMHeadModel`` for training from scratch (tied embeddings, pre-LN, GELU MLP).

    ``config`` is a transformers ``GPT2Config`` (a light import); only its default-style GPT-2
    options are supported (``supports`` says which). Initialised as transformers does: N(0,
    0.02) for matrices and embeddings, the residual projections scaled by 1/sqrt(2 * n_layer).
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not supports(config):
            raise ValueError("MiniGPT2 covers plain GPT-2 configs only; use GPT2LMHeadModel for this one")
        self.config = config
        self.transformer = Body(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight
        std = config.initializer_range
        with torch.no_grad():
            for name, p in self.named_parameters():
                if (
                    name.endswith("ln_1.weight")
                    or name.endswith("ln_2.weight")
                    or name.endswith("ln_f.weight")
                ):
                    p.fill_(1.0)
                elif name.endswith(".bias"):
                    p.zero_()
                elif name.endswith("c_proj.weight"):
                    p.normal_(0.0, std / math.sqrt(2 * config.n_layer))
                else:
                    p.normal_(0.0, std)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return logits(self, input_ids)


def supports(config: Any) -> bool:
    """Whether ``logits`` computes exactly what transformers' GPT-2 does for this config."""
    return (
        getattr(config, "model_type", None) == "gpt2"
        and not config.add_cross_attention
        and not config.scale_attn_by_inverse_layer_idx
        and not config.reorder_and_upcast_attn
        and config.scale_attn_weights
        and config.n_inner is None
        and config.activation_function in ACTIVATIONS
        and getattr(config, "_attn_implementation", None) in (None, "sdpa", "eager")
    )


def gpt2_root(model: Any) -> Any:
    """The GPT-2 module tree ``logits`` can run (``model`` itself, or under a LoRA wrapper), or
    None when ``model`` is something else and must run through its own forward."""
    root = model.get_base_model() if hasattr(model, "get_base_model") else model
    if isinstance(root, MiniGPT2):
        return root
    config = getattr(root, "config", None)
    if config is None or not hasattr(root, "transformer") or not hasattr(root, "lm_head"):
        return None
    if getattr(config, "model_type", None) != "gpt2" or config.add_cross_attention:
        return None
    if config.reorder_and_upcast_attn or getattr(config, "_attn_implementation", None) not in (
        "sdpa",
        "eager",
    ):
        return None
    return root


def logits(root: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """GPT-2's forward without transformers' wrappers (no cache, no mask: full causal windows).

    Runs the modules themselves (so LoRA layers, the configured activation and dropout apply)
    and ``scaled_dot_product_attention`` with ``is_causal``, as transformers' sdpa path does."""
    return root.lm_head(hidden(root, input_ids))


def hidden(root: Any, input_ids: torch.Tensor) -> torch.Tensor:
    """The final hidden states (after ``ln_f``) that ``lm_head`` turns into logits: a loss on
    some positions only needs the head on those (``gpt._loss``)."""
    tr = root.transformer
    b, t = input_ids.shape
    h = tr.drop(tr.wte(input_ids) + tr.wpe.weight[:t])
    for blk in tr.h:
        a = blk.attn
        q, k, v = a.c_attn(blk.ln_1(h)).split(a.split_size, dim=2)
        q, k, v = (z.view(b, t, -1, a.head_dim).transpose(1, 2) for z in (q, k, v))
        p = a.attn_dropout.p if a.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True, scale=a.scaling)
        h = h + a.resid_dropout(a.c_proj(y.transpose(1, 2).reshape(b, t, -1)))
        h = h + blk.mlp(blk.ln_2(h))
    return tr.ln_f(h)


def save_hf_dir(model: MiniGPT2, out_dir: str | Path) -> None:
    """The files ``GPT2LMHeadModel.save_pretrained`` writes: config.json, generation_config.json
    and model.safetensors (tied head left out, as transformers does)."""
    from safetensors.torch import save_file
    from transformers import GenerationConfig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = model.config
    config.architectures = ["GPT2LMHeadModel"]
    config.dtype = "float32"
    config.save_pretrained(str(out))
    gen = GenerationConfig.from_model_config(config)
    gen.save_pretrained(str(out))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(state, str(out / WEIGHTS), metadata={"format": "pt"})
