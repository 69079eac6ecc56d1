"""`tutor model build`: the recipe of the tutor's own GPT, from nothing to ``models/tutor-gpt``.

1. the pre-training corpus: the training notes, teaching cards, practice items and curriculum
   (the domain, repeated), plus docstrings of the installed scientific Python packages and the
   standard library extracted now (``corpus``; their manifest goes next to the weights);
2. byte-level BPE trained on that corpus (topic ids as whole tokens);
3. pre-training of a GPT-2-architecture model from scratch (bf16 autocast where the CPU has it;
   4 whole notes, and their topics' cards and practice items, are held out for an honest
   bits-per-byte figure);
4. fine-tuning data generated from the curriculum, notes and exercises (``recipe_data``): mostly
   lesson plans with reasons for >= 20k learner states, labelled by the rule-based planner;
5. fine-tuning with the loss on the replies only;
6. evaluation (``evaluate``) and a model card + metrics.json next to the weights.

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

# Sized for <= 60 min on a 2-core machine with 2 threads (see the model card for what it
# reaches): about 4.5M tokens in fp32 for this shape (AMD EPYC, AVX2 only; bf16 autocast is used
# only where the CPU has native bf16 — emulated, it ran at 39 tokens/s here). Compute, not data,
# is the limit. Fine-tuning takes its loss on the replies only, so the head runs on those
# positions alone (``gpt._loss``), and with a bounded OpenMP spin (``tools/training/openmp.py``)
# a step costs ~0.85 s instead of ~1.07 s. The 2-core machine of 2026-12-02 ran the same work
# 2.7x faster (pre-training 3650 tokens/s, was 1345; a fine-tuning step ~0.48 s), so the
# fine-tuning doubled: 4800 steps of 6 x 416 tokens, about 1.5 passes over 60k learner states
# (47 min in all there; on the slower machine it would take about 85 min). Twice the steps took
# plans valid before repair from 88.5% to 94.0% of the 200 held-out states with the same data
# shares and prompt; the held-out notes lost 0.06 bits per byte to the longer fine-tuning.
FULL: dict[str, Any] = {
    "vocab": 4096,
    "model": {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 512},
    "precision": "auto",
    # docstring text per package, and how often the domain text (notes, cards, practice,
    # curriculum) is repeated next to it: the held-out figure is on notes, so the domain weighs most
    "corpus": {"bytes_per_package": 300_000, "domain_repeats": 2},
    "pretrain": {
        "block_size": 256,
        "batch_size": 8,
        "max_steps": 600,
        "lr": 2e-3,
        "warmup_steps": 40,
        "eval_interval": 150,
        "eval_iters": 6,
        "dropout": 0.0,
    },
    "finetune": {
        # 416: the longest learner states with their plans fit (at 320, 2% of the plans were
        # dropped, all of them the long ones); batch 6 keeps a step's tokens (and time) as before
        "block_size": 416,
        "batch_size": 6,
        "max_steps": 4800,
        "lr": 1.2e-3,
        "warmup_steps": 30,
        "eval_interval": 960,
        "eval_iters": 6,
        "dropout": 0.0,
    },
    "examples": {"plan": 60000, "explain": 800, "hint": 200, "text": 2000},
    # learner states with a goal / due reviews among the plan examples (the evaluation draws
    # 0.3 / 0.25): the goal's path and the reviews were most of the bundled model's invalid plans
    "plan_mix": {"goal_share": 0.55, "due_share": 0.4},
    "eval": {"n_plans": 200, "n_explain": 40, "plan_constraints": ("ids",)},
}
TINY: dict[str, Any] = {
    "vocab": 400,
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "n_positions": 384},
    "precision": "fp32",
    "corpus": {"bytes_per_package": 0, "domain_repeats": 1},  # no docstrings: seconds, offline-safe
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
    "plan_mix": {"goal_share": 0.55, "due_share": 0.4},
    "eval": {"n_plans": 3, "n_explain": 2, "plan_constraints": ("ids", "strict")},
}


MANIFEST = "corpus_manifest.json"


def _cards() -> list[Any]:
    from knowledge.cards import load_cards

    return load_cards()


def _practice() -> list[Any]:
    from curriculum.practice import bundled_practice

    return list(bundled_practice().values())


def _docstrings(bytes_per_package: int) -> list[Any]:
    """Docstrings of the installed packages (``corpus.extract``); none when the budget is 0."""
    if bytes_per_package <= 0:
        return []
    from tutor.llm import corpus as docstrings

    return docstrings.extract(max_bytes_per_package=bytes_per_package)


def _manifest(parts: list[Any]) -> list[dict[str, Any]]:
    from tutor.llm import corpus as docstrings

    return docstrings.manifest(parts) if parts else []


def native_precision() -> str:
    """ "bf16" where the CPU computes bfloat16 natively (AVX512-BF16 or AMX), else "fp32": bf16
    autocast is 1.35-1.75x faster with native support and ~30x slower where it is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "fp32"
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


def _hash_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


PRETRAIN_FIGURES = "pretrain_figures.json"


def _fingerprint(sizes: dict[str, Any], seed: int, threads: int, texts: list[str]) -> str:
    """What the tokenizer and the pre-trained weights depend on: the text, the sizes, seed, threads."""
    h = hashlib.sha256()
    keys = ("vocab", "model", "precision", "corpus", "pretrain")
    h.update(
        json.dumps([{k: sizes[k] for k in keys}, seed, threads, native_precision()], sort_keys=True).encode()
    )
    for text in texts:
        h.update(hashlib.sha256(text.encode("utf-8")).digest())
    return h.hexdigest()[:20]


def _reuse_pretrain(path: Path, fingerprint: str) -> dict[str, Any]:
    """The saved figures of a kept pre-training run, if it was made from the same inputs."""
    from tutor.errors import BadInput

    try:
        saved = json.loads((path / PRETRAIN_FIGURES).read_text())
    except (OSError, ValueError) as e:
        raise BadInput(f"{path} is not a kept pre-training run (no readable {PRETRAIN_FIGURES}): {e}") from e
    if saved.get("fingerprint") != fingerprint:
        raise BadInput(
            f"{path} was pre-trained from other inputs (corpus, sizes, seed or threads changed); "
            "run the recipe without --pretrained"
        )
    return dict(saved)


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
    keep_pretrain: str | Path | None = None,
    pretrained: str | Path | None = None,
) -> dict[str, Any]:
    """Run the whole recipe into ``out_dir`` (a normal HF model dir + MODEL_CARD.md + metrics.json).

    ``keep_pretrain``: copy the pre-trained model (with its tokenizer and figures) there.
    ``pretrained``: start from such a copy instead of training the tokenizer and pre-training
    again -- only when it was made from the same inputs (corpus text, sizes, seed, threads: its
    fingerprint), so the result is the one a full run gives; the card then shows the reused
    stages' times from that run. For changing the fine-tuning data without an hour of pre-training."""
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
    held_topics = {n.topic_id for n in held}
    cur_text = rd.curriculum_text(catalog)
    domain = (
        [rd.note_text(n) for n in train_notes]
        + [cur_text]
        + rd.card_texts(_cards(), held_topics)
        + rd.practice_texts(_practice(), held_topics)
    )
    parts = _docstrings(sizes["corpus"]["bytes_per_package"])
    docs = [p.text for p in parts]
    t = stage("corpus", t)
    fingerprint = _fingerprint(sizes, seed, num_threads, domain + docs)
    reused = _reuse_pretrain(Path(pretrained), fingerprint) if pretrained else None
    if reused:
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast.from_pretrained(str(pretrained))
        stage_s.update(tokenizer=reused["stage_s"]["tokenizer"])
    else:
        tok = train_bpe(
            domain + docs,
            sizes["vocab"],
            cf.SPECIAL_TOKENS,
            chat_template=cf.CHAT_TEMPLATE,
            whole_words=sorted(catalog.topics),
            max_length=sizes["model"]["n_positions"],
        )
        t = stage("tokenizer", t)

    # the curriculum text is short next to the rest: repeat it so ids and prerequisites stick
    repeats = sizes["corpus"]["domain_repeats"]
    train_ids = encode_documents(tok, domain * repeats + docs + [cur_text] * 3)
    val_ids = encode_documents(tok, [rd.note_text(n) for n in held] or domain[-1:])
    chosen = native_precision() if sizes["precision"] == "auto" else sizes["precision"]
    precision: dict[str, Any] = {"precision": chosen} if chosen != "fp32" else {}
    pre_cfg = GPTTrainConfig(
        **sizes["model"],
        **sizes["pretrain"],
        **precision,
        seed=seed,
        num_threads=num_threads,
        checkpoint_interval=10**9,
    )
    if reused:
        pre_dir, pre = Path(pretrained or ""), reused["pretrain"]
        stage_s.update(pretrain=reused["stage_s"]["pretrain"])
        logger.info("recipe: pre-training reused from %s (same inputs)", pre_dir)
        t = time.perf_counter()
    else:
        pre_dir = work / "pretrain"
        pre = train_gpt(pre_cfg, train_ids, val_ids, pre_dir, tokenizer=tok, on_progress=progress("pretrain"))
        pre = {k: v for k, v in pre.items() if k not in ("history", "out_dir")}
        t = stage("pretrain", t)
        saved = {"fingerprint": fingerprint, "pretrain": pre, "stage_s": dict(stage_s)}
        (pre_dir / PRETRAIN_FIGURES).write_text(json.dumps(saved, indent=1) + "\n")
        if keep_pretrain:
            shutil.copytree(pre_dir, keep_pretrain, dirs_exist_ok=True)

    rng = random.Random(seed)
    n_ex = sizes["examples"]
    examples = (
        rd.plan_examples(catalog, n_ex["plan"], rng, **sizes["plan_mix"])
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
        **sizes["model"],
        **sizes["finetune"],
        **precision,
        seed=seed,
        num_threads=num_threads,
        checkpoint_interval=10**9,
    )
    final_dir = work / "final"
    ft = train_gpt(
        ft_cfg,
        enc_tr["ids"],
        enc_va["ids"],
        final_dir,
        init_model_dir=pre_dir,
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
    from tutor.llm import corpus as docstrings

    docstrings.write_manifest(parts, out / MANIFEST)
    figures: dict[str, Any] = {}
    if evaluate:
        from tutor.llm.evaluate import evaluate_model

        figures = evaluate_model(out, catalog, held, seed=seed, **sizes["eval"])
        t = stage("evaluate", t)
    reused_s = reused["stage_s"]["tokenizer"] + reused["stage_s"]["pretrain"] if reused else 0.0
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
            "domain_documents": len(domain),
            "domain_bytes": sum(len(d.encode("utf-8")) for d in domain),
            "domain_repeats": repeats,
            "docstring_packages": len(parts),
            "docstring_bytes": sum(len(d.encode("utf-8")) for d in docs),
            "pretrain_tokens": int(len(train_ids)),
            "heldout_tokens": int(len(val_ids)),
            "finetune_examples": kinds,
            "finetune_tokens": int(len(enc_tr["ids"])),
            "finetune_dropped_too_long": enc_tr["dropped"] + enc_va["dropped"],
        },
        "tokenizer": {"kind": "byte-level BPE", "size": len(tok)},
        "precision": chosen,
        "pretrain": {**pre, **({"reused_from_an_identical_run": True} if reused else {})},
        "finetune": {k: v for k, v in ft.items() if k not in ("history", "out_dir")},
        "eval": figures,
        "corpus_manifest": [
            {k: v for k, v in m.items() if k in ("package", "version", "licence", "bytes")}
            for m in _manifest(parts)
        ],
        "stage_s": stage_s,
        # the whole recipe's time: this run's, plus the reused stages' from the run that made them
        "wall_s": round(time.perf_counter() - t_start + reused_s, 1),
        "run_s": round(time.perf_counter() - t_start, 1),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    from tutor.llm.evaluate import model_card

    (out / "MODEL_CARD.md").write_text(model_card(metrics))
    shutil.rmtree(work, ignore_errors=True)
    return metrics
