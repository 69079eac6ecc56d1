"""Side by side: a plain nanoGPT-style training loop vs the same run through the tutor's job tool.

The reference is written the way nanoGPT's README runs its CPU recipe (``train.py
config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --block_size=64
--batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000
--dropout=0.0``): char-level tiny Shakespeare, 90/10 split, a minimal GPT (pre-LN blocks, tied
embeddings, no biases in the way), AdamW lr 1e-3 (beta2 0.99, weight decay 0.1 on matrices),
100 warmup steps then cosine decay to 1e-4, grad clip 1.0, eval of 20 batches. Then the same
shape and schedule is submitted as a ``gpt`` job (worker process, store, checkpoints). It prints
both wall times, their ratio (job / reference), both val losses, and the CPU seconds each used
with the load average: on a busy machine wall times swing with the neighbours (and two torch
threads that wait for a taken core spin many times slower, see ``--threads``), CPU seconds less.

    python scripts/bench_reference.py PATH/TO/tinyshakespeare.txt [--steps 2000] [--json]

The full comparison is 2000 steps (minutes each on 2 cores); ``--steps 200`` is a quick check.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SHAPE = {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64, "batch_size": 12}
LR, MIN_LR, WARMUP, EVAL_ITERS, EVAL_INTERVAL = 1e-3, 1e-4, 100, 20, 250


def reference(text: str, steps: int, seed: int = 1337, threads: int | None = None) -> dict[str, Any]:
    """nanoGPT's loop, plainly: returns ``{"wall_s", "val_loss", "loss", "params", "threads", ...}``.
    Threads: torch's default (all cores), as nanoGPT runs, unless ``threads`` is given; the job
    tool picks its own count by timing (``tools/training/gpt.py``), which matters on a busy box.
    ``wall_s`` is the loop alone; ``setup_s`` what came before it (import torch, the data, the
    model, the optimizer), which ``time python train.py`` would also count. After the clock
    stops, ``val_loss_full`` is the loss over the whole val split, as the job reports its own."""
    start = time.perf_counter()
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    splits = {"train": data[:n], "val": data[n:]}
    L, H, E, T, B = (SHAPE[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size"))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(E), nn.LayerNorm(E)
            self.qkv, self.proj = nn.Linear(E, 3 * E), nn.Linear(E, E)
            self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(E, dim=2)
            q, k, v = (z.view(b, t, H, E // H).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, E))
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(len(chars), E), nn.Embedding(T, E)
            self.blocks = nn.Sequential(*[Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(E)
            self.head = nn.Linear(E, len(chars), bias=False)
            self.head.weight = self.wte.weight  # tied, as in nanoGPT
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(m.weight, std=0.02)

        def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            logits = self.head(self.ln_f(self.blocks(x)))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    def batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        d = splits[split]
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i : i + T] for i in ix]), torch.stack([d[i + 1 : i + 1 + T] for i in ix])

    @torch.no_grad()
    def evaluate(split: str) -> float:
        model.eval()
        loss = sum(float(model(*batch(split))) for _ in range(EVAL_ITERS)) / EVAL_ITERS
        model.train()
        return loss

    @torch.no_grad()
    def whole_val() -> float:  # every non-overlapping window of the val split, as the job's final figure
        d = splits["val"]
        starts = torch.arange(0, len(d) - T, T)
        model.eval()
        total = 0.0
        for ix in starts.split(B):
            x, y = torch.stack([d[i : i + T] for i in ix]), torch.stack([d[i + 1 : i + 1 + T] for i in ix])
            total += float(model(x, y)) * len(ix)
        return total / len(starts)

    def lr_at(it: int) -> float:
        if it < WARMUP:
            return LR * (it + 1) / (WARMUP + 1)
        ratio = min(1.0, (it - WARMUP) / max(1, steps - WARMUP))
        return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)

    model = GPT()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.99))
    t0, cpu0 = time.perf_counter(), time.process_time()
    setup = t0 - start
    val = loss = float("nan")
    for it in range(steps + 1):
        if it % EVAL_INTERVAL == 0 or it == steps:
            val = evaluate("val")
        if it == steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        loss_t = model(*batch("train"))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = float(loss_t.detach())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    params = sum(p.numel() for p in model.parameters())
    return {
        "threads": torch.get_num_threads(),
        "wall_s": round(wall, 1),
        "setup_s": round(setup, 1),
        "cpu_s": round(cpu, 1),
        "val_loss": round(val, 4),
        "val_loss_full": round(whole_val(), 4),
        "loss": round(loss, 4),
        "params": params,
    }


def through_jobs(path: Path, steps: int) -> dict[str, Any]:
    """The same run as a ``gpt`` job; wall time from submit to finished job."""
    from storage.store import Store
    from tools.training.jobs import JobManager

    params = {
        "data": str(path.resolve()),
        "base": "scratch",
        "tokenizer": "char",
        **SHAPE,
        "max_steps": steps,
        "lr": LR,
        "dropout": 0.0,
        "warmup_steps": WARMUP,
        "eval_iters": EVAL_ITERS,
        "eval_interval": min(EVAL_INTERVAL, steps),
    }
    with tempfile.TemporaryDirectory(prefix="bench-reference-") as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'tutor.db'}")
        # the manager's default poll, as `tutor serve` runs it; 0.2 s cost the job ~1% in CPU on 2 cores
        jobs = JobManager(store, Path(tmp) / "runs", Path(tmp) / "models", Path(tmp) / "bundled")
        cpu0 = _cpu_with_children()
        try:
            t0 = time.perf_counter()
            job = jobs.wait(jobs.submit("gpt", params)["job_id"], timeout_s=3600, poll_s=0.5)
            wall = time.perf_counter() - t0
        finally:
            jobs.close()  # reaps the worker, so its CPU time is counted below
            store.close()
        cpu = _cpu_with_children() - cpu0
    m = job["metrics"]
    return {
        "status": job["status"],
        "error": job["error"],
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "train_s": m.get("train_s"),
        "val_loss": m.get("val_loss"),
        "loss": m.get("loss"),
        "params": m.get("params"),
        "threads": m.get("threads"),
    }


def _cpu_with_children() -> float:
    """CPU seconds of this process and its reaped children (the job's worker)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, nargs="?", help="tiny Shakespeare text file (input.txt of nanoGPT)")
    ap.add_argument("--steps", type=int, default=2000, help="2000 is the README recipe; 200 a quick check")
    ap.add_argument("--threads", type=int, default=None, help="plain loop threads (default: torch's)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    if args.data is None or not args.data.is_file():
        print(
            f"skipped: tiny Shakespeare text not found ({args.data}); pass its path "
            "(nanoGPT's data/shakespeare_char/input.txt)",
            file=sys.stderr,
        )
        return 0
    load0 = os.getloadavg()[0]
    ref = reference(args.data.read_text(encoding="utf-8"), args.steps, threads=args.threads)
    job = through_jobs(args.data, args.steps)
    ratio = round(job["wall_s"] / ref["wall_s"], 2) if ref["wall_s"] else None
    with_setup = round(ref["wall_s"] + ref["setup_s"], 1)
    ratio_setup = round(job["wall_s"] / with_setup, 2) if with_setup else None
    cpu_ratio = round(job["cpu_s"] / ref["cpu_s"], 2) if ref["cpu_s"] else None
    load = [round(load0, 2), round(os.getloadavg()[0], 2)]
    out = {
        "steps": args.steps,
        "reference": ref,
        "job": job,
        "wall_ratio_job_over_reference": ratio,
        "wall_ratio_job_over_reference_with_setup": ratio_setup,
        "cpu_ratio_job_over_reference": cpu_ratio,
        "load_avg_1min_start_end": load,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.steps} steps, char-level tiny Shakespeare, 4x4x128, block 64, batch 12, lr 1e-3")
        print(f"{'':22}{'plain loop':>14}{'job tool':>14}")
        print(f"{'wall time (s)':22}{ref['wall_s']:>14}{job['wall_s']:>14}   ratio job/plain {ratio}")
        print(f"{'  plain: + setup (s)':22}{with_setup:>14}{'':>14}   ratio job/plain {ratio_setup}")
        print(f"{'cpu time (s)':22}{ref['cpu_s']:>14}{job['cpu_s']:>14}   ratio job/plain {cpu_ratio}")
        print(f"{'val loss, whole split':22}{ref['val_loss_full']:>14}{_s(job['val_loss']):>14}")
        print(f"{'val loss, 20 batches':22}{ref['val_loss']:>14}{'':>14}   (nanoGPT's own estimate)")
        print(f"{'last train loss':22}{ref['loss']:>14}{_s(job['loss']):>14}")
        print(f"{'parameters':22}{ref['params']:>14}{_s(job['params']):>14}")
        print(f"{'torch threads':22}{ref['threads']:>14}{_s(job['threads']):>14}")
        print(f"load average (1 min) at start {load[0]}, at end {load[1]} on {os.cpu_count()} cores")
        print("plain: the loop alone (+ setup: import torch, data, model); job: submit to done")
        if job["status"] != "succeeded":
            print(f"job {job['status']}: {job['error']}")
    return 0 if job["status"] == "succeeded" else 1


def _s(v: Any) -> str:
    return "n/a" if v is None else str(v)


if __name__ == "__main__":
    sys.exit(main())
