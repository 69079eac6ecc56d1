"""Side by side: nanoGPT's CPU recipe as a plain training loop vs the same run through the
tutor's job tool.

The reference is nanoGPT's ``train.py`` as its README runs the CPU recipe (``train.py
config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --log_interval=1
--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
--lr_decay_iters=2000 --dropout=0.0``), written out as a bare loop (see ``reference``):
char-level tiny Shakespeare, 90/10 split, nanoGPT's GPT (pre-LN blocks, tied embeddings, no
biases), AdamW lr 1e-3 (beta2 0.99, weight decay 0.1 on matrices), 100 warmup steps then cosine
decay to 1e-4, grad clip 1.0, an evaluation of 20 batches of each split every 250 iterations, a
checkpoint when the val loss improves. Then the same shape and schedule is submitted as a
``gpt`` job (worker process, store, checkpoints, the loss curve, the model registered), handed
to a standby worker that has done its imports, as the served tutor keeps one (``--no-standby``:
a worker started at submit; the job's CPU seconds count the imports either way). It
prints both wall times, their ratio (job / reference), both val losses, and the CPU seconds each
used with the load average: on a busy machine wall times swing with the neighbours (and two
torch threads that wait for a taken core spin many times slower, see ``--threads``), CPU
seconds less. Runs alternate plain, job, job, plain (``--rounds``), so a drift of the machine's
speed during the bench (frequent on a shared VM) weighs on both sides alike.

    python scripts/bench_reference.py PATH/TO/tinyshakespeare.txt [--steps 2000] [--rounds 2] [--json]

The full comparison is 2000 steps (minutes each on 2 cores); ``--steps 200 --rounds 1`` is a
quick check.
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
    """nanoGPT's ``train.py`` as the README's CPU command runs it, written out plainly: returns
    ``{"wall_s", "val_loss", "loss", "params", "threads", ...}``.

    What it keeps of ``train.py``: the model (no biases, ``bias=False`` being its default; tied
    embeddings; N(0, 0.02) init with the residual projections scaled by 1/sqrt(2 n_layer)); the
    data as uint16 ``np.memmap`` files re-opened for each batch; AdamW (not fused: ``train.py``
    fuses only on CUDA); an evaluation of both splits every 250 iterations and at the first;
    a checkpoint (model and optimizer state) whenever the val loss improves; the loss read every
    iteration (``--log_interval=1``); iterations 0 to ``steps`` inclusive, ``steps + 1`` updates.
    Threads: torch's default (all cores), as nanoGPT runs, unless ``threads`` is given; the job
    tool picks its own count by timing (``tools/training/gpt.py``), which matters on a busy box.
    ``wall_s`` is the loop alone; ``setup_s`` what came before it (import torch, the data, the
    model, the optimizer), which ``time python train.py`` would also count. After the clock
    stops, ``val_loss_full`` is the loss over the whole val split, as the job reports its own."""
    start = time.perf_counter()
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = int(0.9 * len(ids))
    L, H, E, T, B = (SHAPE[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size"))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(E, bias=False), nn.LayerNorm(E, bias=False)
            self.qkv, self.proj = nn.Linear(E, 3 * E, bias=False), nn.Linear(E, E, bias=False)
            self.fc, self.fc_proj = nn.Linear(E, 4 * E, bias=False), nn.Linear(4 * E, E, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(E, dim=2)
            q, k, v = (z.view(b, t, H, E // H).transpose(1, 2) for z in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(b, t, E))
            return x + self.fc_proj(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(len(chars), E), nn.Embedding(T, E)
            self.blocks = nn.Sequential(*[Block() for _ in range(L)])
            self.ln_f = nn.LayerNorm(E, bias=False)
            self.head = nn.Linear(E, len(chars), bias=False)
            self.head.weight = self.wte.weight  # tied, as in nanoGPT
            for name, p in self.named_parameters():
                if p.dim() >= 2:
                    std = 0.02 / math.sqrt(2 * L) if name.endswith("proj.weight") else 0.02
                    nn.init.normal_(p, std=std)

        def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            logits = self.head(self.ln_f(self.blocks(x)))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    tmp = tempfile.TemporaryDirectory(prefix="bench-plain-")
    files = {"train": Path(tmp.name) / "train.bin", "val": Path(tmp.name) / "val.bin"}
    ids[:n].tofile(files["train"])
    ids[n:].tofile(files["val"])

    def batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
        d = np.memmap(files[split], dtype=np.uint16, mode="r")  # re-opened per batch, as train.py
        ix = torch.randint(len(d) - T, (B,))
        x = torch.stack([torch.from_numpy(d[i : i + T].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(d[i + 1 : i + 1 + T].astype(np.int64)) for i in ix])
        return x, y

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        model.eval()
        out = {s: sum(float(model(*batch(s))) for _ in range(EVAL_ITERS)) / EVAL_ITERS for s in files}
        model.train()
        return out

    @torch.no_grad()
    def whole_val() -> float:  # every non-overlapping window of the val split, as the job's final figure
        d = torch.from_numpy(np.fromfile(files["val"], dtype=np.uint16).astype(np.int64))
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
        if it > steps:
            return MIN_LR
        ratio = (it - WARMUP) / max(1, steps - WARMUP)
        return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)

    model = GPT()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.99))
    t0, cpu0 = time.perf_counter(), time.process_time()
    setup = t0 - start
    val, best, loss, log = float("nan"), float("inf"), float("nan"), ""
    x, y = batch("train")
    for it in range(steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        # train.py evaluates every EVAL_INTERVAL (2000 is one); the last iteration too for --steps 200
        if it % EVAL_INTERVAL == 0 or it == steps:
            val = evaluate()["val"]
            if val < best:
                best = val
                if it > 0:
                    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter_num": it}
                    torch.save(state, Path(tmp.name) / "ckpt.pt")
        loss_t = model(x, y)
        x, y = batch("train")
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = loss_t.item()
        log = f"iter {it}: loss {loss:.4f}"  # train.py prints this line every iteration
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    params = sum(p.numel() for p in model.parameters())
    full = whole_val()
    tmp.cleanup()
    return {
        "threads": torch.get_num_threads(),
        "wall_s": round(wall, 1),
        "setup_s": round(setup, 1),
        "cpu_s": round(cpu, 1),
        "val_loss": round(val, 4),
        "val_loss_full": round(full, 4),
        "loss": round(loss, 4),
        "params": params,
        "last_log": log,
    }


def through_jobs(path: Path, steps: int, standby: bool = True) -> dict[str, Any]:
    """The same run as a ``gpt`` job; wall time from submit to finished job. ``standby``: as
    ``tutor serve`` runs jobs (``TUTOR_JOB_STANDBY``, on by default), a worker has done its imports
    before the job comes; the clock starts once it is ready, so its imports load neither side."""
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
        jobs = JobManager(
            store, Path(tmp) / "runs", Path(tmp) / "models", Path(tmp) / "bundled", standby=standby
        )
        cpu0 = _cpu_with_children()
        try:
            deadline = time.monotonic() + 120
            while standby and not jobs.warm() and time.monotonic() < deadline:
                time.sleep(0.1)
            warm = jobs.warm()
            t0 = time.perf_counter()
            job = jobs.wait(jobs.submit("gpt", params)["job_id"], timeout_s=3600, poll_s=0.5)
            wall = time.perf_counter() - t0
        finally:
            jobs.close()  # reaps the worker, so its CPU time is counted below
            store.close()
        cpu = _cpu_with_children() - cpu0
        log = Path(tmp) / "runs" / job["job_id"] / "worker.log"
        # the thread tuner's changes of count explain a slow run on a busy machine
        threads_log = [
            ln.split(": ", 1)[-1]
            for ln in (log.read_text() if log.exists() else "").splitlines()
            if "torch threads" in ln
        ]
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
        "thread_changes": threads_log,
        "worker": "standby" if warm else "started at submit",
    }


def _cpu_with_children() -> float:
    """CPU seconds of this process and its reaped children (the job's worker)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return round(sum(float(r[key]) for r in runs) / len(runs), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, nargs="?", help="tiny Shakespeare text file (input.txt of nanoGPT)")
    ap.add_argument("--steps", type=int, default=2000, help="2000 is the README recipe; 200 a quick check")
    ap.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="pairs of runs, in the order plain, job, job, plain, ... so a machine that speeds up "
        "or slows down during the bench favours neither side (default 2)",
    )
    ap.add_argument("--threads", type=int, default=None, help="plain loop threads (default: torch's)")
    ap.add_argument(
        "--no-standby",
        action="store_true",
        help="start the job's worker at submit (TUTOR_JOB_STANDBY=false) instead of a warm standby one",
    )
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args(argv)
    if args.data is None or not args.data.is_file():
        print(
            f"skipped: tiny Shakespeare text not found ({args.data}); pass its path "
            "(nanoGPT's data/shakespeare_char/input.txt)",
            file=sys.stderr,
        )
        return 0
    if args.rounds < 1 or args.steps < 1:
        print("--rounds and --steps must be at least 1", file=sys.stderr)
        return 2
    load0 = os.getloadavg()[0]
    text = args.data.read_text(encoding="utf-8")
    refs: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for side in ("plain", "job") if r % 2 == 0 else ("job", "plain"):
            if side == "plain":
                refs.append(reference(text, args.steps, threads=args.threads))
            else:
                jobs.append(through_jobs(args.data, args.steps, standby=not args.no_standby))
    failed = [j for j in jobs if j["status"] != "succeeded"]
    ref_wall, job_wall = _mean(refs, "wall_s"), (None if failed else _mean(jobs, "wall_s"))
    ratio = round(job_wall / ref_wall, 2) if job_wall and ref_wall else None
    # the first plain run's setup is the cold one (import torch), as `time python train.py` counts it
    with_setup = round(ref_wall + refs[0]["setup_s"], 1)
    ratio_setup = round(job_wall / with_setup, 2) if job_wall else None
    ref_cpu, job_cpu = _mean(refs, "cpu_s"), (None if failed else _mean(jobs, "cpu_s"))
    cpu_ratio = round(job_cpu / ref_cpu, 2) if job_cpu and ref_cpu else None
    load = [round(load0, 2), round(os.getloadavg()[0], 2)]
    ref, job = refs[-1], jobs[-1]
    out = {
        "steps": args.steps,
        "rounds": args.rounds,
        "reference": ref,
        "job": job,
        "reference_runs": refs,
        "job_runs": jobs,
        "wall_s_mean": {"reference": ref_wall, "job": job_wall},
        "wall_ratio_job_over_reference": ratio,
        "wall_ratio_job_over_reference_with_setup": ratio_setup,
        "cpu_ratio_job_over_reference": cpu_ratio,
        "load_avg_1min_start_end": load,
    }
    if args.json:
        print(json.dumps(out))
    else:
        runs = "one run each" if args.rounds == 1 else f"{args.rounds} runs each, plain/job/job/plain..."
        print(
            f"{args.steps} steps, char-level tiny Shakespeare, 4x4x128, block 64, batch 12, lr 1e-3 ({runs})"
        )
        print(f"{'':22}{'plain loop':>14}{'job tool':>14}")
        print(f"{'wall time (s), mean':22}{ref_wall:>14}{_s(job_wall):>14}   ratio job/plain {ratio}")
        each = (" ".join(str(x["wall_s"]) for x in refs), " ".join(str(x["wall_s"]) for x in jobs))
        print(f"{'  each run (s)':22}{each[0]:>14}{each[1]:>14}")
        print(f"{'  plain: + setup (s)':22}{with_setup:>14}{'':>14}   ratio job/plain {ratio_setup}")
        print(f"{'cpu time (s), mean':22}{ref_cpu:>14}{_s(job_cpu):>14}   ratio job/plain {cpu_ratio}")
        print(f"{'val loss, whole split':22}{ref['val_loss_full']:>14}{_s(job['val_loss']):>14}   (last run)")
        print(f"{'val loss, 20 batches':22}{ref['val_loss']:>14}{'':>14}   (nanoGPT's own estimate)")
        print(f"{'last train loss':22}{ref['loss']:>14}{_s(job['loss']):>14}")
        print(f"{'parameters':22}{ref['params']:>14}{_s(job['params']):>14}")
        print(f"{'torch threads':22}{ref['threads']:>14}{_s(job['threads']):>14}")
        print(f"load average (1 min) at start {load[0]}, at end {load[1]} on {os.cpu_count()} cores")
        print("plain: the loop alone (+ setup: import torch, data, model); job: submit to done")
        print(f"job worker: {job['worker']} (TUTOR_JOB_STANDBY; --no-standby starts one at submit)")
        for j in failed:
            print(f"job {j['status']}: {j['error']}")
    return 1 if failed else 0


def _s(v: Any) -> str:
    return "n/a" if v is None else str(v)


if __name__ == "__main__":
    sys.exit(main())
