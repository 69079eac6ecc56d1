"""The figures of issue 5 for a model directory: held-out loss, plan validity, explanation
support, latency and load time. Used by the recipe (model card) and ``scripts/eval_model.py``."""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curriculum.catalog import Catalog
from curriculum.planner import plan_lesson, validate_plan
from knowledge.notes_format import Note
from tutor.llm import chat_format as cf
from tutor.llm.local import LocalChatModel, generate_pieces, load_local_model, torch_threads
from tutor.llm.recipe_data import explain_examples, note_text, random_learner
from tutor.llm.tasks import explain, gpt_plan

EVAL_SEED_OFFSET = 10_000  # evaluation learner states never coincide with training ones


def heldout_loss(model_dir: str | Path, texts: Sequence[str], block: int = 256) -> dict[str, float]:
    """Mean next-token loss over every token of ``texts`` (non-overlapping windows), and perplexity."""
    import torch
    import torch.nn.functional as F

    from tools.training.data import encode_documents

    loaded = load_local_model(model_dir, device="cpu")
    ids = torch.from_numpy(encode_documents(loaded.tokenizer, texts).astype("int64"))
    block = min(block, loaded.max_positions)
    total, count = 0.0, 0
    with torch.inference_mode(), torch_threads(1):
        for start in range(0, len(ids) - 1, block):
            x = ids[start : start + block]
            y = ids[start + 1 : start + block + 1]
            x = x[: len(y)]
            logits = loaded.model(input_ids=x[None]).logits[0]
            total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            count += len(y)
    loss = total / max(count, 1)
    return {"loss": round(loss, 4), "perplexity": round(math.exp(loss), 2), "tokens": count}


def plan_eval(
    llm: Any, catalog: Catalog, n: int = 200, seed: int = 0, constraint: str = "strict"
) -> dict[str, Any]:
    """Raw validity (before repair), validity after repair, and agreement with the planner."""
    rng = random.Random(seed + EVAL_SEED_OFFSET)
    raw_ok = final_ok = agree = 0
    secs = []
    for _ in range(n):
        s = random_learner(catalog, rng)
        t0 = time.perf_counter()
        plan = gpt_plan(
            llm, catalog, s["mastery"], s["hours"], s["goal_topics"], s["due"], constraint=constraint
        )
        secs.append(time.perf_counter() - t0)
        raw_ok += not plan["repaired"]
        final_ok += not validate_plan(catalog, plan["items"], s["mastery"], s["hours"])
        rule = plan_lesson(catalog, s["mastery"], s["hours"], s["goal_topics"], s["due"])
        agree += not plan["repaired"] and plan["items"] == [i.__dict__ for i in rule.items]
    return {
        "n": n,
        "constraint": constraint,
        "raw_valid_rate": round(raw_ok / n, 4),
        "valid_after_repair_rate": round(final_ok / n, 4),
        "same_as_planner_rate": round(agree / n, 4),
        "mean_s": round(statistics.fmean(secs), 3),
    }


def explain_eval(llm: Any, notes: Sequence[Note], n: int = 60, seed: int = 0) -> dict[str, Any]:
    """Questions about ``notes`` (held out from training) with a right and distractor passages."""
    rng = random.Random(seed + EVAL_SEED_OFFSET)
    examples = explain_examples(notes, n, rng)
    raw, final, extractive, cited_right = [], [], 0, 0
    for ex in examples:
        lines = ex.user.splitlines()
        question = lines[0].removeprefix("question: ")
        passages = [
            {"text": line.split("] ", 1)[1], "topic_id": "", "source": f"p{k}"}
            for k, line in enumerate(lines[1:], 1)
        ]
        e = explain(llm, question, passages)
        raw.append(e.raw_supported_share)
        final.append(e.supported_share)
        extractive += e.extractive
        right = ex.assistant.rsplit("[", 1)[1].rstrip("]")
        cited_right += any(c["source"] == f"p{right}" for c in e.citations)
    m = max(len(examples), 1)
    return {
        "n": len(examples),
        "raw_supported_share": round(statistics.fmean(raw), 4) if raw else 0.0,
        "supported_share": round(statistics.fmean(final), 4) if final else 0.0,
        "extractive_rate": round(extractive / m, 4),
        "cites_right_passage_rate": round(cited_right / m, 4),
    }


class _NoStop:
    """Logits processor that forbids end tokens: the latency test wants exactly N tokens."""

    def __init__(self, stop_ids: set[int]):
        self.stop = sorted(stop_ids)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        scores[:, self.stop] = float("-inf")
        return scores


def latency(llm: LocalChatModel, n_tokens: int = 150, runs: int = 3) -> dict[str, float]:
    """First-token latency and speed of an ``n_tokens`` answer to a typical explain prompt."""
    loaded = llm.loaded
    passages = ["A NumPy array holds values of one dtype in a contiguous block of memory. " * 3] * 3
    msgs = [
        {"role": "system", "content": cf.EXPLAIN_SYSTEM},
        {"role": "user", "content": cf.explain_prompt("what is broadcasting in numpy", passages)},
    ]
    from tutor.llm.local import render_prompt

    prompt, _ = render_prompt(loaded.tokenizer, msgs)
    firsts, totals, counts = [], [], []
    for r in range(runs + 1):  # the first run warms caches and is not counted
        usage: dict[str, int] = {}
        t0 = time.perf_counter()
        first = None
        for _ in generate_pieces(
            loaded,
            prompt,
            max_new_tokens=n_tokens,
            logits_processor=_NoStop(loaded.stop_ids),
            usage=usage,
            num_threads=1 if loaded.device == "cpu" else None,
        ):
            first = first or time.perf_counter() - t0
        if r:
            firsts.append(first or 0.0)
            totals.append(time.perf_counter() - t0)
            counts.append(usage.get("output_tokens", 0))
    total = statistics.median(totals)
    return {
        "first_token_s": round(statistics.median(firsts), 4),
        "answer_s": round(total, 3),
        "tokens": int(statistics.median(counts)),
        "tokens_per_s": round(statistics.median(counts) / total, 1),
        "prompt_tokens": usage.get("input_tokens", 0),
    }


def load_time(model_dir: str | Path) -> float:
    """Seconds to load model + tokenizer (Python modules already imported, files not cached by us)."""
    from tutor.llm import local

    key = (str(Path(model_dir).expanduser().resolve()), "cpu", "auto")
    local._CACHE.pop(key, None)
    t0 = time.perf_counter()
    load_local_model(model_dir, device="cpu")
    return round(time.perf_counter() - t0, 3)


def evaluate_model(
    model_dir: str | Path,
    catalog: Catalog,
    heldout: Sequence[Note],
    *,
    seed: int = 0,
    n_plans: int = 200,
    n_explain: int = 60,
    plan_constraints: Sequence[str] = ("strict", "ids"),
) -> dict[str, Any]:
    llm = LocalChatModel(model_dir=str(model_dir), device="cpu")
    out: dict[str, Any] = {"load_s": load_time(model_dir)}
    out["heldout"] = heldout_loss(model_dir, [note_text(n) for n in heldout]) if heldout else None
    out["plans"] = {c: plan_eval(llm, catalog, n_plans, seed, c) for c in plan_constraints}
    out["explanations"] = explain_eval(llm, heldout, n_explain, seed)
    out["latency"] = latency(llm)
    out["params"] = llm.loaded.params
    return out
