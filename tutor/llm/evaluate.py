"""The figures of issue 5 for a model directory: held-out loss, plan validity, explanation
support, latency and load time, and the model card that reports them. Used by the recipe and
``scripts/eval_model.py``."""

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


def bits_per_byte(model_dir: str | Path, texts: Sequence[str], block: int = 256) -> dict[str, Any]:
    """Total next-token NLL of ``texts`` in bits over their UTF-8 bytes (non-overlapping windows):
    tokenizer-independent, so models with different vocabularies compare.

    Tokens the tokenizer cannot represent (a char tokenizer's unknown token) cost 8 extra bits
    each, so a model cannot look good by mapping text it never saw to one cheap token."""
    import torch
    import torch.nn.functional as F

    from tools.training.data import encode_documents

    loaded = load_local_model(model_dir, device="cpu")
    ids = torch.from_numpy(encode_documents(loaded.tokenizer, texts).astype("int64"))
    unk_id = loaded.tokenizer.unk_token_id
    n_unk = int((ids == unk_id).sum()) if unk_id is not None else 0
    block = min(block, loaded.max_positions)
    nats, count = 0.0, 0
    with torch.inference_mode(), torch_threads(1):
        for start in range(0, len(ids) - 1, block):
            y = ids[start + 1 : start + block + 1]
            x = ids[start : start + block][: len(y)]
            logits = loaded.model(input_ids=x[None]).logits[0]
            nats += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            count += len(y)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    bits = nats / math.log(2) + 8 * n_unk
    return {
        "bits_per_byte": round(bits / max(n_bytes, 1), 4),
        "bytes": n_bytes,
        "tokens": count,
        "unk_tokens": n_unk,
    }


def xz_bits_per_byte(texts: Sequence[str]) -> float:
    """What ``xz -9`` needs for the same bytes (one stream of all texts), in bits per byte: the
    floor a language model must beat to know more than a general-purpose compressor."""
    import lzma

    data = "".join(texts).encode("utf-8")
    return round(8 * len(lzma.compress(data, preset=9)) / max(len(data), 1), 4)


def plan_eval(
    llm: Any, catalog: Catalog, n: int = 200, seed: int = 0, constraint: str = "ids"
) -> dict[str, Any]:
    """Raw validity (before repair), validity after repair, agreement with the planner, and how
    many of the model's reasons were missing or untrue (replaced by the planner's)."""
    from curriculum.plan_reasons import ReasonContext, annotate, practice_counts

    rng = random.Random(seed + EVAL_SEED_OFFSET)
    counts = practice_counts(catalog)
    raw_ok = final_ok = agree = 0
    reasons = replaced = 0
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
        ours = [{k: i.get(k) for k in ("topic_id", "activity", "minutes")} for i in plan["items"]]
        agree += not plan["repaired"] and ours == [
            {"topic_id": i.topic_id, "activity": i.activity, "minutes": i.minutes} for i in rule.items
        ]
        if not plan["repaired"]:  # the model's own items: are its reasons true of this learner?
            ctx = ReasonContext(catalog, s["mastery"], s["goal_topics"], s["due"], counts)
            reasons += len(plan["items"])
            replaced += annotate(ctx, plan["items"])[1]
    return {
        "n": n,
        "constraint": constraint,
        "raw_valid_rate": round(raw_ok / n, 4),
        "valid_after_repair_rate": round(final_ok / n, 4),
        "same_as_planner_rate": round(agree / n, 4),
        "reasons": reasons,
        "reasons_replaced_rate": round(replaced / reasons, 4) if reasons else None,
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


def load_time(model_dir: str | Path) -> dict[str, float]:
    """Seconds to load model + tokenizer: ``first_s`` as the first load in this process (it may
    include importing the transformers model classes), ``load_s`` as a reload from disk."""
    from tutor.llm import local

    key = (str(Path(model_dir).expanduser().resolve()), "cpu", "auto")
    out = {}
    for name in ("first_s", "load_s"):
        local._CACHE.pop(key, None)
        t0 = time.perf_counter()
        load_local_model(model_dir, device="cpu")
        out[name] = round(time.perf_counter() - t0, 3)
    return out


def evaluate_model(
    model_dir: str | Path,
    catalog: Catalog,
    heldout: Sequence[Note],
    *,
    seed: int = 0,
    n_plans: int = 200,
    n_explain: int = 60,
    plan_constraints: Sequence[str] = ("ids", "strict"),
) -> dict[str, Any]:
    llm = LocalChatModel(model_dir=str(model_dir), device="cpu")
    out: dict[str, Any] = load_time(model_dir)
    texts = [note_text(n) for n in heldout]
    out["heldout"] = heldout_loss(model_dir, texts) if heldout else None
    if heldout:
        out["heldout"].update(bits_per_byte(model_dir, texts), xz_bits_per_byte=xz_bits_per_byte(texts))
    out["plans"] = {c: plan_eval(llm, catalog, n_plans, seed, c) for c in plan_constraints}
    out["explanations"] = explain_eval(llm, heldout, n_explain, seed)
    out["latency"] = latency(llm)
    out["params"] = llm.loaded.params
    return out


# --- the model card ------------------------------------------------------------------------


def _fmt(x: Any) -> str:
    return "n/a" if x is None else str(x)


def _pct(x: float | None) -> str | None:
    return None if x is None else f"{x:.1%}"


def _licences(manifest: Any) -> list[str]:
    if not manifest:
        return ["- none (this build used no docstrings)"]
    return [f"- {m['package']} {m['version']}: {m['licence']}" for m in manifest]


def model_card(m: dict[str, Any]) -> str:
    """MODEL_CARD.md from the metrics of a build."""
    d, pre, ft, ev = m["data"], m["pretrain"], m["finetune"], m.get("eval") or {}
    cfg = ft["config"]
    plans = ev.get("plans", {})
    ex = ev.get("explanations", {})
    lat = ev.get("latency", {})
    held = ev.get("heldout") or {}
    lines = [
        f"# {m['model_id']}: the tutor's own GPT",
        "",
        "A GPT-2-architecture model (transformers `GPT2LMHeadModel`) trained from scratch on this repository's",
        "course notes, teaching cards and practice items plus the docstrings of the installed scientific Python",
        "packages, and fine-tuned on tutoring data generated from the curriculum, notes and exercises.",
        "Rebuild it with `tutor model build` (recipe: `tutor/llm/recipe.py`); same seed and thread count,",
        "same weights on the same machine.",
        "",
        "## What it is for, and what not",
        "",
        "Narrow tasks in a fixed chat format (`tutor/llm/chat_format.py`): lesson plans with a reason per item",
        "(decoded under the `ids` grammar: real topic ids and a parseable format; prerequisites, hours, order",
        "and reasons are the model's; then validated, and repaired by the rule-based planner), explanations",
        "composed from retrieved passages (every sentence checked against them, else the notes are quoted),",
        "and hints. It is far too small to know facts or reason: never trust its free text unchecked.",
        "",
        "## Data",
        "",
        f"- notes: {d['notes']} files (sha256 {d['notes_sha256']}), {d['notes_train']} for training; held out: "
        f"{', '.join(d['notes_heldout']) or 'none'}",
        f"- curriculum: `curriculum/curriculum.yaml` (sha256 {d['curriculum_sha256']})",
        f"- teaching cards and practice items of the training topics, with the notes and curriculum: "
        f"{_fmt(d.get('domain_documents'))} documents, {_fmt(d.get('domain_bytes'))} bytes, repeated "
        f"{_fmt(d.get('domain_repeats'))}x",
        f"- docstrings of {_fmt(d.get('docstring_packages'))} installed packages and the standard library: "
        f"{_fmt(d.get('docstring_bytes'))} bytes after cleaning and deduplication; package, version, licence, "
        "bytes and sha256 of each in `corpus_manifest.json` (licences below)",
        f"- pre-training tokens: {d['pretrain_tokens']}; held-out tokens: {d['heldout_tokens']}",
        f"- fine-tuning examples: {d['finetune_examples']} ({d['finetune_tokens']} tokens; "
        f"{d['finetune_dropped_too_long']} dropped as longer than the context)",
        "",
        "## Model and training",
        "",
        f"- tokenizer: {m['tokenizer']['kind']}, {m['tokenizer']['size']} tokens (topic ids are single tokens)",
        f"- {cfg['n_layer']} layers, {cfg['n_head']} heads, width {cfg['n_embd']}, context {cfg['n_positions']}; "
        f"{ft['params']:,} parameters",
        f"- pre-training: {pre['steps']} steps, batch {pre['config']['batch_size']} x {pre['config']['block_size']}, "
        f"lr {pre['config']['lr']}; train loss {_fmt(pre['loss'])}, held-out loss {_fmt(pre['val_loss'])}, "
        f"{_fmt(pre['tokens_per_s'])} tokens/s",
        f"- fine-tuning: {ft['steps']} steps, batch {cfg['batch_size']} x {cfg['block_size']}, lr {cfg['lr']}, "
        f"loss on the replies (and on the mixed-in note passages); train loss {_fmt(ft['loss'])}, "
        f"val loss {_fmt(ft['val_loss'])}",
        f"- wall time: {m['wall_s']} s on {m['num_threads']} thread(s) (stages: {m['stage_s']}); seed {m['seed']}"
        + (
            " (tokenizer and pre-training reused from an identical earlier run, their times included)"
            if (m.get("pretrain") or {}).get("reused_from_an_identical_run")
            else ""
        ),
        "",
        "## Evaluation",
        "",
        f"- held-out notes: **{_fmt(held.get('bits_per_byte'))} bits per byte** (`xz -9` on the same "
        f"{_fmt(held.get('bytes'))} bytes: {_fmt(held.get('xz_bits_per_byte'))}); loss "
        f"{_fmt(held.get('loss'))}, perplexity {_fmt(held.get('perplexity'))} over {_fmt(held.get('tokens'))} "
        "tokens never trained on",
    ]
    for level, p in plans.items():
        lines.append(
            f"- plans, constraint `{level}`, {p['n']} learner states: raw validity {p['raw_valid_rate']:.1%} "
            f"(before repair), {p['valid_after_repair_rate']:.1%} after repair, identical to the planner "
            f"{p['same_as_planner_rate']:.1%}, reasons replaced as untrue or missing "
            f"{_fmt(_pct(p.get('reasons_replaced_rate')))}, {p['mean_s']} s per plan"
        )
    if ex:
        lines.append(
            f"- explanations ({ex['n']} questions on held-out notes): {ex['raw_supported_share']:.1%} of the model's "
            f"sentences supported; after the check {ex['supported_share']:.1%}; extractive fallback "
            f"{ex['extractive_rate']:.1%}; right passage cited {ex['cites_right_passage_rate']:.1%}"
        )
    if lat:
        lines.append(
            f"- speed (CPU, 1 thread): first token {lat['first_token_s']} s, {lat['tokens']} tokens in "
            f"{lat['answer_s']} s ({lat['tokens_per_s']} tokens/s) after a {lat['prompt_tokens']}-token prompt; "
            f"load {ev.get('load_s')} s (first load in the measuring process {ev.get('first_s')} s)"
        )
    lines += [
        "",
        "`metrics.json` next to this card holds every figure and the full configuration.",
        "",
        "## Limits",
        "",
        "- Trained on ~40 notes: it writes in their style but is not a source of truth; the tutor grounds",
        "  and checks everything it says (see `tutor/llm/tasks.py`).",
        "- Raw plan validity with the `ids` constraint (the served one) measures the model; the `strict`",
        "  constraint also enforces prerequisites and hours while decoding, so its validity is by construction.",
        "- A reason the model writes is shown only when the planner finds it true of the learner's state;",
        "  otherwise the planner's reason replaces it.",
        "",
        "## Licences of the pre-training text",
        "",
        "The docstrings keep their packages' licences (BSD, Apache-2.0, PSF, MIT and similar permissive",
        "licences); the weights are a statistical model of them. Their notices are in the packages named:",
        "",
        *_licences(m.get("corpus_manifest")),
        "",
    ]
    return "\n".join(lines)
