"""GPT-2-architecture models and the fast training loop shared by the recipe and training jobs.

The model is GPT-2 (so the result is a normal model directory any HF tool can load): from scratch
``gpt_model.MiniGPT2``, transformers' ``GPT2LMHeadModel`` in plain torch (it spares a training
process transformers' model code, ~5 s of CPU to import here), when fine-tuning whatever the base
dir holds. The loop is plain PyTorch in the style of nanoGPT: random windows of the token stream,
AdamW with decoupled weight decay on matrices only, linear warmup + cosine decay, gradient
clipping. No HF ``Trainer``: on 2 CPU cores its per-step overhead would cost more than the model.

Reproducibility: batches come from a dedicated ``torch.Generator``; checkpoints hold the model,
optimizer, both RNG states and the step, so a run killed and resumed gives the same weights as an
uninterrupted one (bit-for-bit on the same machine and thread count).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tools.training.data import Windows

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
PRECISIONS = ("fp32", "bf16")
ProgressFn = Callable[[dict[str, Any]], None]
StopFn = Callable[[], bool]


@dataclass
class GPTTrainConfig:
    """Model shape and optimisation settings (defaults: a small model that trains fast on CPU)."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128
    n_positions: int | None = None  # None: block_size; more leaves room for longer fine-tuning windows
    vocab_size: int | None = None  # None: taken from the tokenizer or the init model
    dropout: float = 0.0
    batch_size: int = 16
    max_steps: int = 1000
    lr: float = 1e-3
    min_lr: float | None = None  # None: lr / 10 (nanoGPT)
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    checkpoint_interval: int = 250
    log_interval: int = 10
    seed: int = 0
    num_threads: int | None = None  # None: all cores
    lora_r: int = 0  # > 0: train LoRA adapters on attention (peft), merged into the saved model
    # "bf16": forward (train and eval) under torch.autocast("cpu", bfloat16), loss, weights and
    # optimizer in fp32. Only where the CPU has native bf16 (AVX512-BF16, AMX): emulated on an
    # AVX2 CPU it ran ~15x slower than fp32 here
    precision: str = "fp32"

    def validate(self) -> None:
        checks = [
            (self.n_layer >= 1, f"n_layer must be >= 1, got {self.n_layer}"),
            (self.n_head >= 1, f"n_head must be >= 1, got {self.n_head}"),
            (
                self.n_embd % max(self.n_head, 1) == 0,
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})",
            ),
            (self.block_size >= 2, f"block_size must be >= 2, got {self.block_size}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.eval_interval >= 1 and self.eval_iters >= 1, "eval_interval and eval_iters must be >= 1"),
            (
                self.checkpoint_interval >= 1,
                f"checkpoint_interval must be >= 1, got {self.checkpoint_interval}",
            ),
            (self.lora_r >= 0, f"lora_r must be >= 0, got {self.lora_r}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_model_config(
    cfg: GPTTrainConfig, vocab_size: int, eos_id: int | None = None, pad_id: int | None = None
) -> Any:
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=max(cfg.n_positions or 0, cfg.block_size),
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        # exact GELU, as nanoGPT: one kernel, and on AVX2 CPUs ~1.6x faster than the tanh form
        activation_function="gelu",
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id if pad_id is not None else eos_id,
        tie_word_embeddings=True,
    )


def build_model(
    cfg: GPTTrainConfig, vocab_size: int, eos_id: int | None = None, pad_id: int | None = None
) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` (HF init: N(0, 0.02), scaled residual proj)."""
    import torch
    from transformers import GPT2LMHeadModel

    torch.manual_seed(cfg.seed)
    return GPT2LMHeadModel(make_model_config(cfg, vocab_size, eos_id, pad_id))


def _scratch_model(
    cfg: GPTTrainConfig, vocab_size: int, eos_id: int | None = None, pad_id: int | None = None
) -> Any:
    """The model a run from scratch trains: ``MiniGPT2`` (``gpt_model.py``: the same parameters
    as ``GPT2LMHeadModel`` without importing transformers' model code), or transformers' own
    when LoRA needs it."""
    import torch

    if cfg.lora_r:
        return build_model(cfg, vocab_size, eos_id, pad_id)
    from tools.training.gpt_model import MiniGPT2

    torch.manual_seed(cfg.seed)
    return MiniGPT2(make_model_config(cfg, vocab_size, eos_id, pad_id))


def count_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def lr_at(step: int, cfg: GPTTrainConfig) -> float:
    """Linear warmup, then cosine decay to ``min_lr`` at ``max_steps`` (nanoGPT's schedule)."""
    min_lr = cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1)
    if step >= cfg.max_steps:
        return min_lr
    ratio = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.lr - min_lr)


SWITCH_MARGIN = 0.2  # the thread tuner takes the most threads within this share of the fastest count


class _ThreadTuner:
    """Re-picks the fastest torch thread count from time to time by timing a few steps each
    (fewer threads than the most only when faster by more than ``SWITCH_MARGIN``).

    Why: on a shared CPU, OpenMP threads spin-wait for a core another process holds; measured
    here under load ~5 on 2 cores, 2 threads took 1-6 s per step where 1 thread took ~0.2 s. On
    an idle machine all cores win. A fixed choice is wrong half the time, so measure; a candidate
    twice as slow as the best so far is dropped after one step, so a round costs little. A round
    that confirms the count in use doubles the gap to the next one (up to ``max_every`` steps),
    a change brings it back to ``every``. A count that lost by 2x is not probed again while the
    load average says the cores it needs are still taken (each such probe cost about a second
    under load); once they are free it is timed again.
    """

    def __init__(
        self,
        max_threads: int,
        every: int = 250,
        warm: int = 2,
        trial: int = 3,
        max_every: int = 2000,
        load: Callable[[], float | None] | None = None,
    ):
        self.cores = max_threads
        self.cands = sorted({1, max(1, max_threads // 2), max_threads})
        self.every, self.warm, self.trial, self.max_every = every, warm, trial, max_every
        self.load = load or _load_average
        self.queue: list[int] = []
        self.cur: int | None = None
        self.times: dict[int, list[float]] = {}
        self.best: int | None = None
        self.lost: set[int] = set()  # counts > 2x slower than the best when last timed
        self.gap, self.next_at, self.step = every, warm, 0

    def before(self, step: int) -> None:
        self.step = step
        if len(self.cands) > 1 and self.cur is None and step >= self.next_at:
            self.queue, self.times = [n for n in self.cands if not self._still_taken(n)], {}
            if len(self.queue) == 1:  # nothing to compare: keep the one count left
                self._finish(self.queue.pop())
            else:
                self._next()

    def _still_taken(self, n: int) -> bool:
        import torch

        load = self.load() if n in self.lost else None
        if load is None:
            return False
        others = load - torch.get_num_threads()  # our own running threads count in the load
        return n > self.cores - others + 0.5

    def after(self, seconds: float) -> None:
        if self.cur is None:
            return
        mine = self.times.setdefault(self.cur, [])
        mine.append(seconds)
        others = [min(v) for k, v in self.times.items() if k != self.cur]
        if len(mine) >= self.trial or (others and seconds > 2 * min(others)):
            self._next()

    def _next(self) -> None:
        import torch

        if self.queue:
            self.cur = self.queue.pop(0)
            torch.set_num_threads(self.cur)
            return
        quickest = {n: min(t) for n, t in self.times.items()}
        fastest = min(quickest.values())
        # fewer threads only when clearly faster: on an idle machine all cores win, and a few
        # steps timed on a VM with noisy neighbours can put the other count ahead by chance
        best = max(n for n, t in quickest.items() if t <= (1 + SWITCH_MARGIN) * fastest)
        ms = {n: round(1000 * t) for n, t in sorted(quickest.items())}
        if best != self.best:  # a change shows in the job's log: it can cost or save a lot of time
            logger.info("step %d: %d torch threads (fastest step in ms by count: %s)", self.step, best, ms)
        else:
            logger.debug("step %d: keeping %d torch threads (%s)", self.step, best, ms)
        slow = {n for n, t in quickest.items() if t > 2 * fastest}
        self.lost = {n for n in self.lost if n not in self.times} | slow
        self._finish(best)

    def _finish(self, best: int) -> None:
        import torch

        torch.set_num_threads(best)
        self.gap = min(2 * self.gap, self.max_every) if best == self.best else self.every
        self.best, self.cur, self.next_at = best, None, self.step + 1 + self.gap


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not on this platform
        return None


class _Forward:
    """Token ids -> logits for the loop and the evaluations: GPT-2 models (ours, transformers',
    under LoRA or not) through ``gpt_model.logits``, which skips transformers' per-call Python
    (same numbers); other models through their own forward. ``precision`` "bf16" runs it under
    CPU autocast; the logits come back in fp32 so the loss is always computed in fp32."""

    def __init__(self, model: Any, precision: str = "fp32") -> None:
        import torch

        from tools.training.gpt_model import gpt2_root, hidden, logits

        self.model, self.root, self._logits, self._hidden = model, gpt2_root(model), logits, hidden
        self._autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

    def __call__(self, x: Any) -> Any:
        with self._autocast():
            if self.root is not None:
                out = self._logits(self.root, x)
            else:
                out = self.model(input_ids=x, use_cache=False).logits
        return out.float()

    def at(self, x: Any, keep: Any) -> Any:
        """Logits at the positions ``keep`` (a boolean mask of ``x``'s shape) only, as one (n,
        vocab) matrix: the head is skipped where no loss is taken (GPT-2 models; others run whole)."""
        if self.root is None:
            return self(x)[keep]
        with self._autocast():
            h = self._hidden(self.root, x)
            out = self.root.lm_head(h[keep])
        return out.float()


# Below this share of positions with a target, the head runs on those positions only. In
# fine-tuning on replies (the recipe: ~15% of the tokens) the head is a quarter of the model's
# work per token (4139 x 256 against 4 blocks of 256); in pre-training every position counts.
SPARSE_TARGETS = 0.9


def _loss(forward: _Forward, x: Any, y: Any, reduction: str = "mean") -> Any:
    """Cross-entropy over the positions with a target (``y != -100``), as ``ignore_index`` would
    give: when few positions have one, the head is computed on those alone (same numbers)."""
    import torch.nn.functional as F

    keep = y != -100
    n = int(keep.sum())
    if n < SPARSE_TARGETS * y.numel():
        return F.cross_entropy(forward.at(x, keep), y[keep], reduction=reduction)
    logits = forward(x)
    flat = logits.reshape(-1, logits.size(-1))
    return F.cross_entropy(flat, y.reshape(-1), ignore_index=-100, reduction=reduction)


FINAL_EVAL_WINDOWS = 2000
# The final sweep runs in batches of up to this many logits (64 MB in fp32): on CPU a few big
# batches are faster than many of the training batch size (tiny Shakespeare's 1742 validation
# windows: 7 forward passes instead of 146). The sum over windows is the same.
EVAL_LOGITS = 1 << 24


def _sweep_batch(cfg: GPTTrainConfig, block: int, vocab: int) -> int:
    return max(cfg.batch_size, min(256, EVAL_LOGITS // max(1, block * vocab)))


def _estimate(forward: _Forward, batches: Windows, cfg: GPTTrainConfig, final: bool = False) -> float:
    """Mean loss over a FIXED set of random windows, so successive evaluations are comparable;
    ``final``: over the whole validation data (up to FINAL_EVAL_WINDOWS windows), so the figure
    a run reports is not off by the +-0.02 sampling noise of a few batches."""
    import torch

    model = forward.model
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    vocab = int(getattr(getattr(model, "config", None), "vocab_size", 0) or 50_257)
    rows = _sweep_batch(cfg, batches.block, vocab)
    with torch.no_grad():
        if final:
            for pick in batches.sweep(rows, FINAL_EVAL_WINDOWS):
                x, y = batches.at(pick)
                total += float(_loss(forward, x, y, reduction="sum"))
                count += int((y != -100).sum())
            model.train(was_training)
            return total / max(count, 1)
        # the same windows as eval_iters training-size batches, and the same figure (the mean of
        # the batches' mean losses), computed in as few forward passes as EVAL_LOGITS allows
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        picks = torch.cat([batches.pick(cfg.batch_size, gen) for _ in range(cfg.eval_iters)])
        sums = torch.zeros(cfg.eval_iters, dtype=torch.float64)
        counts = torch.zeros(cfg.eval_iters, dtype=torch.float64)
        for first in range(0, len(picks), rows):
            x, y = batches.at(picks[first : first + rows])
            losses, row = _token_losses(forward, x, y)
            which = (row + first) // cfg.batch_size
            sums.index_add_(0, which, losses.double())
            counts.index_add_(0, which, torch.ones_like(sums[which]))
        total = float((sums / counts).sum())
    model.train(was_training)
    return total / cfg.eval_iters


def _token_losses(forward: _Forward, x: Any, y: Any) -> tuple[Any, Any]:
    """The loss at every position with a target, and the row of ``x`` each one is in."""
    keep = y != -100
    losses = _loss(forward, x, y, reduction="none")
    if losses.numel() == y.numel():  # the whole head ran: a loss per position, 0 where no target
        losses = losses[keep.reshape(-1)]
    return losses, keep.nonzero()[:, 0]


def _optimizer(model: Any, cfg: GPTTrainConfig) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    # fused: one kernel for all tensors, ~4x less optimizer time than foreach for a small model
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=True)


def _load_init_model(init_model_dir: str | Path, cfg: GPTTrainConfig) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(str(init_model_dir), dtype=torch.float32)
    for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
        if hasattr(model.config, name):
            setattr(model.config, name, cfg.dropout)
    for m in model.modules():  # the config is read at construction; apply the dropout to the modules
        if isinstance(m, torch.nn.Dropout):
            m.p = cfg.dropout
    return model


def _apply_lora(model: Any, cfg: GPTTrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    targets = ["c_attn"] if model.config.model_type == "gpt2" else ["q_proj", "v_proj"]
    return get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, target_modules=targets))


def _save_checkpoint(ckpt: Path, model: Any, opt: Any, gen: Any, state: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_model

    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    rng = {"torch": torch.get_rng_state(), "batches": gen.get_state()}
    torch.save({"optimizer": opt.state_dict(), "rng": rng}, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    # swap in atomically-enough: a crash mid-save leaves the previous checkpoint intact
    old = ckpt.with_name(ckpt.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if ckpt.exists():
        ckpt.rename(old)
    tmp.rename(ckpt)
    shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(ckpt: Path, model: Any, opt: Any, gen: Any, cfg: GPTTrainConfig) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_model

    state: dict[str, Any] = json.loads((ckpt / "state.json").read_text())
    now, defaults = cfg.to_dict(), GPTTrainConfig().to_dict()
    # a setting added since the checkpoint was written had its default then
    saved = {**{k: defaults[k] for k in now if k not in state["config"]}, **state["config"]}
    if saved != now:
        diff = {k: (v, now.get(k)) for k, v in saved.items() if now.get(k) != v}
        raise ValueError(f"cannot resume from {ckpt}: its settings differ (saved, now): {diff}")
    load_model(model, str(ckpt / "model.safetensors"))
    blob = torch.load(ckpt / "trainer.pt", weights_only=True)
    opt.load_state_dict(blob["optimizer"])
    torch.set_rng_state(blob["rng"]["torch"])
    gen.set_state(blob["rng"]["batches"])
    return state


def save_model_dir(model: Any, out_dir: str | Path, tokenizer: Any = None) -> None:
    """A normal HF model directory: config.json, model.safetensors, tokenizer files."""
    from tools.training.gpt_model import MiniGPT2, save_hf_dir

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):  # LoRA: merge adapters so the dir is a plain model
        model = model.merge_and_unload()
    if isinstance(model, MiniGPT2):
        save_hf_dir(model, out)
    else:
        model.save_pretrained(str(out))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))


def train_gpt(
    cfg: GPTTrainConfig,
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    out_dir: str | Path,
    *,
    init_model_dir: str | Path | None = None,
    tokenizer: Any = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    resume: bool = False,
    train_mask: np.ndarray | None = None,
    val_mask: np.ndarray | None = None,
    train_starts: np.ndarray | None = None,
    val_starts: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train (from scratch, or on top of ``init_model_dir``) and save a model dir in ``out_dir``.

    ``train_mask``/``val_mask`` (0/1 per token) restrict the loss to some tokens (e.g. only the
    assistant's reply in fine-tuning data); ``*_starts`` restrict windows to start at those
    positions (e.g. the start of each example). Returns metrics; ``stopped`` is True when
    ``should_stop`` ended the run early (a checkpoint is left for ``resume=True``).
    """
    import torch

    cfg.validate()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights"/"Writing shards" bars would flood job logs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT_DIR
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cfg.num_threads or os.cpu_count() or 1)
    try:
        if init_model_dir is not None:
            model = _load_init_model(init_model_dir, cfg)
            if tokenizer is None and (Path(init_model_dir) / "tokenizer_config.json").exists():
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(str(init_model_dir))
            vocab = model.config.vocab_size
            if tokenizer is not None and len(tokenizer) > vocab:
                model.resize_token_embeddings(len(tokenizer))
            max_pos = getattr(model.config, "n_positions", None) or getattr(
                model.config, "max_position_embeddings", 0
            )
            if max_pos and cfg.block_size > max_pos:
                raise ValueError(f"block_size {cfg.block_size} exceeds the base model's {max_pos} positions")
        else:
            vocab = cfg.vocab_size or (len(tokenizer) if tokenizer is not None else None)
            if vocab is None:
                raise ValueError("set cfg.vocab_size or pass a tokenizer for a model trained from scratch")
            eos = getattr(tokenizer, "eos_token_id", None)
            model = _scratch_model(cfg, vocab, eos, getattr(tokenizer, "pad_token_id", None))
        if int(max(train_ids.max(initial=0), val_ids.max(initial=0))) >= model.config.vocab_size:
            raise ValueError(f"token ids go beyond the model's vocabulary of {model.config.vocab_size}")
        if cfg.lora_r:
            model = _apply_lora(model, cfg)
        model.train()
        return _run(
            cfg,
            model,
            tokenizer,
            out,
            ckpt,
            train_ids,
            val_ids,
            train_mask,
            val_mask,
            train_starts,
            val_starts,
            on_progress,
            should_stop,
            resume,
        )
    finally:
        torch.set_num_threads(threads_before)


def _run(
    cfg: GPTTrainConfig,
    model: Any,
    tokenizer: Any,
    out: Path,
    ckpt: Path,
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    train_mask: np.ndarray | None,
    val_mask: np.ndarray | None,
    train_starts: np.ndarray | None,
    val_starts: np.ndarray | None,
    on_progress: ProgressFn | None,
    should_stop: StopFn | None,
    resume: bool,
) -> dict[str, Any]:
    import torch

    train = Windows(train_ids, cfg.block_size, train_mask, train_starts)
    val = Windows(val_ids, cfg.block_size, val_mask, val_starts)
    forward = _Forward(model, cfg.precision)
    opt = _optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    state: dict[str, Any] = {"step": 0, "history": [], "best_val_loss": None, "train_s": 0.0, "tokens": 0}
    if resume and (ckpt / "state.json").exists():
        state = _load_checkpoint(ckpt, model, opt, gen, cfg)
        logger.info("resumed from %s at step %d", ckpt, state["step"])
    params = count_params(model)
    tokens_per_step = cfg.batch_size * train.block
    step = state["step"]
    last_loss = float("nan")
    window_t, window_steps, tok_s = time.perf_counter(), 0, 0.0
    stopped = False

    def snapshot() -> None:
        state.update(step=step, config=cfg.to_dict())
        _save_checkpoint(ckpt, model, opt, gen, state)

    tuner = _ThreadTuner(torch.get_num_threads()) if cfg.num_threads is None else None
    while step < cfg.max_steps:
        if should_stop is not None and should_stop():
            stopped = True
            break
        if tuner is not None:
            tuner.before(step)
            t_step = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = train.get(cfg.batch_size, gen)
        loss = _loss(forward, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if tuner is not None:
            tuner.after(time.perf_counter() - t_step)
        step += 1
        window_steps += 1
        record: dict[str, Any] | None = None
        if step % cfg.log_interval == 0 or step == cfg.max_steps or step % cfg.eval_interval == 0:
            last_loss = loss.item()  # only when logging: each read is a small cost
            now = time.perf_counter()
            tok_s = window_steps * tokens_per_step / max(now - window_t, 1e-9)
            state["train_s"] += now - window_t
            state["tokens"] += window_steps * tokens_per_step
            record = {"step": step, "loss": round(last_loss, 4), "lr": lr, "tokens_per_s": round(tok_s, 1)}
        if step % cfg.eval_interval == 0 or step == cfg.max_steps:
            assert record is not None
            val_loss = _estimate(forward, val, cfg, final=step == cfg.max_steps)
            record["val_loss"] = round(val_loss, 4)
            best = state["best_val_loss"]
            state["best_val_loss"] = val_loss if best is None else min(best, val_loss)
            logger.info("step %d loss %.4f val %.4f lr %.2e %.0f tok/s", step, last_loss, val_loss, lr, tok_s)
        if record is not None:
            state["history"].append(record)
            if on_progress is not None:
                on_progress({"val_loss": None, **record, "progress": step / cfg.max_steps})
            window_t, window_steps = time.perf_counter(), 0
        if step % cfg.checkpoint_interval == 0 and step < cfg.max_steps:
            snapshot()
            window_t = time.perf_counter()  # checkpoint I/O is not training throughput
    if stopped:
        snapshot()
    else:
        save_model_dir(model, out, tokenizer)
        shutil.rmtree(ckpt, ignore_errors=True)
    evals = [h for h in state["history"] if "val_loss" in h]
    return {
        "steps": step,
        "max_steps": cfg.max_steps,
        "stopped": stopped,
        "loss": evals[-1]["loss"] if evals else (round(last_loss, 4) if not math.isnan(last_loss) else None),
        "val_loss": evals[-1]["val_loss"] if evals else None,
        "best_val_loss": state["best_val_loss"],
        "tokens_per_s": round(state["tokens"] / state["train_s"], 1) if state["train_s"] else None,
        "train_s": round(state["train_s"], 2),
        "params": params,
        "threads": torch.get_num_threads(),
        "history": state["history"],
        "config": cfg.to_dict(),
        "out_dir": str(out),
    }
