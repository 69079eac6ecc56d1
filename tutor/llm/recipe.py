"""`tutor model build`: the recipe of the tutor's own GPT, from nothing to ``models/tutor-gpt``.

1. byte-level BPE trained on the training notes and the curriculum (topic ids as whole tokens);
2. pre-training of a GPT-2-architecture model from scratch on those notes (a seeded ~10% of the
   notes is held out for an honest perplexity);
3. fine-tuning data generated from the curriculum, notes and exercises (``recipe_data``);
4. fine-tuning with the loss on the replies only;
5. evaluation (``evaluate``) and a model card + metrics.json next to the weights.

Deterministic for a seed on a given machine: one fixed thread count (thread count changes the
floating-point summation order), seeded data generation and training.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curriculum.catalog import load_catalog
from tools.training.data import encode_documents
from tools.training.gpt import GPTTrainConfig, train_gpt
from tools.training.tokenizer import train_bpe
from tutor.llm import chat_format as cf
from tutor.llm import recipe_data as rd

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)

# Sized for ~10-15 min on 2 shared cores: see the model card for what it reaches.
FULL: dict[str, Any] = {
    "vocab": 2048,
    "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "n_positions": 384},
    "pretrain": {
        "block_size": 256,
        "batch_size": 8,
        "max_steps": 300,
        "lr": 2e-3,
        "warmup_steps": 25,
        "eval_interval": 50,
        "eval_iters": 8,
        "dropout": 0.0,
    },
    "finetune": {
        "block_size": 320,
        "batch_size": 8,
        "max_steps": 500,
        "lr": 1.5e-3,
        "warmup_steps": 20,
        "eval_interval": 50,
        "eval_iters": 8,
        "dropout": 0.0,
    },
    "examples": {"plan": 1800, "explain": 1200, "hint": 300, "text": 500},
    "eval": {"n_plans": 200, "n_explain": 60},
}
TINY: dict[str, Any] = {
    "vocab": 400,
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 384},
    "pretrain": {
        "block_size": 64,
        "batch_size": 4,
        "max_steps": 6,
        "lr": 2e-3,
        "warmup_steps": 1,
        "eval_interval": 3,
        "eval_iters": 1,
        "dropout": 0.0,
    },
    "finetune": {
        "block_size": 384,
        "batch_size": 2,
        "max_steps": 4,
        "lr": 1e-3,
        "warmup_steps": 1,
        "eval_interval": 2,
        "eval_iters": 1,
        "dropout": 0.0,
    },
    "examples": {"plan": 20, "explain": 20, "hint": 6, "text": 6},
    "eval": {"n_plans": 3, "n_explain": 2},
}


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def build(
    out_dir: str | Path,
    *,
    tiny: bool = False,
    seed: int = 0,
    notes_dir: str | Path | None = None,
    curriculum_path: str | Path | None = None,
    exercises_dir: str | Path | None = None,
    num_threads: int = 1,
    evaluate: bool = True,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the whole recipe into ``out_dir`` (a normal HF model dir + MODEL_CARD.md + metrics.json)."""
    sizes = TINY if tiny else FULL
    t_start = time.perf_counter()
    out = Path(out_dir)
    work = out / ".build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    notes_path = Path(notes_dir) if notes_dir else REPO / "knowledge" / "notes"
    cur_path = Path(curriculum_path) if curriculum_path else REPO / "curriculum" / "curriculum.yaml"
    ex_path = Path(exercises_dir) if exercises_dir else None
    stage_s: dict[str, float] = {}

    def stage(name: str, t0: float) -> float:
        stage_s[name] = round(time.perf_counter() - t0, 1)
        logger.info("recipe: %s done in %.1fs", name, stage_s[name])
        if on_progress:
            on_progress({"stage": name, "seconds": stage_s[name]})
        return time.perf_counter()

    def progress(name: str) -> Callable[[dict[str, Any]], None]:
        return lambda p: on_progress({"stage": name, **p}) if on_progress else None

    t = time.perf_counter()
    catalog = load_catalog(cur_path)
    notes = rd.load_notes(notes_path)
    train_notes, held = rd.split_notes(notes, seed)
    cur_text = rd.curriculum_text(catalog)
    corpus = [rd.note_text(n) for n in train_notes] + [cur_text]
    tok = train_bpe(
        corpus,
        sizes["vocab"],
        cf.SPECIAL_TOKENS,
        chat_template=cf.CHAT_TEMPLATE,
        whole_words=sorted(catalog.topics),
        max_length=sizes["model"]["n_positions"],
    )
    t = stage("tokenizer", t)

    # the curriculum text is short next to the notes: repeat it so ids and prerequisites stick
    train_ids = encode_documents(tok, corpus + [cur_text] * 3)
    val_ids = encode_documents(tok, [rd.note_text(n) for n in held] or corpus[-1:])
    pre_cfg = GPTTrainConfig(
        **sizes["model"], **sizes["pretrain"], seed=seed, num_threads=num_threads, checkpoint_interval=10**9
    )
    pre = train_gpt(
        pre_cfg, train_ids, val_ids, work / "pretrain", tokenizer=tok, on_progress=progress("pretrain")
    )
    t = stage("pretrain", t)

    rng = random.Random(seed)
    n_ex = sizes["examples"]
    examples = (
        rd.plan_examples(catalog, n_ex["plan"], rng)
        + rd.explain_examples(train_notes, n_ex["explain"], rng)
        + rd.hint_examples(ex_path, n_ex["hint"], rng)
        + rd.text_examples(train_notes, n_ex["text"], rng)
    )
    rng.shuffle(examples)
    n_val = max(2, len(examples) // 20)
    block = sizes["finetune"]["block_size"]
    enc_tr = rd.encode_examples(tok, examples[n_val:], block)
    enc_va = rd.encode_examples(tok, examples[:n_val], block)
    kinds = {k: sum(e.kind == k for e in examples) for k in ("plan", "explain", "hint", "text")}
    t = stage("data", t)

    ft_cfg = GPTTrainConfig(
        **sizes["model"], **sizes["finetune"], seed=seed, num_threads=num_threads, checkpoint_interval=10**9
    )
    final_dir = work / "final"
    ft = train_gpt(
        ft_cfg,
        enc_tr["ids"],
        enc_va["ids"],
        final_dir,
        init_model_dir=work / "pretrain",
        tokenizer=tok,
        train_mask=enc_tr["mask"],
        val_mask=enc_va["mask"],
        train_starts=enc_tr["starts"],
        val_starts=enc_va["starts"],
        on_progress=progress("finetune"),
    )
    t = stage("finetune", t)

    for name in MODEL_FILES:  # replace the model files only now: a failed build leaves the old model
        if (final_dir / name).exists():
            shutil.copy2(final_dir / name, out / name)
    figures: dict[str, Any] = {}
    if evaluate:
        from tutor.llm.evaluate import evaluate_model

        figures = evaluate_model(out, catalog, held, seed=seed, **sizes["eval"])
        t = stage("evaluate", t)
    metrics = {
        "model_id": out.name,
        "seed": seed,
        "tiny": tiny,
        "num_threads": num_threads,
        "data": {
            "notes": len(notes),
            "notes_train": len(train_notes),
            "notes_heldout": [n.topic_id for n in held],
            "notes_sha256": _hash_files(list(notes_path.glob("*.md"))),
            "curriculum_sha256": _hash_files([cur_path]),
            "pretrain_tokens": int(len(train_ids)),
            "heldout_tokens": int(len(val_ids)),
            "finetune_examples": kinds,
            "finetune_tokens": int(len(enc_tr["ids"])),
            "finetune_dropped_too_long": enc_tr["dropped"] + enc_va["dropped"],
        },
        "tokenizer": {"kind": "byte-level BPE", "size": len(tok)},
        "pretrain": {k: v for k, v in pre.items() if k not in ("history", "out_dir")},
        "finetune": {k: v for k, v in ft.items() if k not in ("history", "out_dir")},
        "eval": figures,
        "stage_s": stage_s,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    from tutor.llm.evaluate import model_card

    (out / "MODEL_CARD.md").write_text(model_card(metrics))
    shutil.rmtree(work, ignore_errors=True)
    return metrics
