"""Print issue 5's figures for a chat model directory (default: the bundled models/tutor-gpt).

    python scripts/eval_model.py [MODEL_DIR] [--plans 200] [--explain 60] [--json]

Held-out loss is measured on the notes the model's recipe held out (``metrics.json``), so it is
only meaningful for models built by ``tutor model build``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?", default=str(REPO / "models" / "tutor-gpt"))
    ap.add_argument("--plans", type=int, default=200, help="learner states for plan validity")
    ap.add_argument("--explain", type=int, default=60, help="questions for explanation support")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)

    from curriculum.catalog import load_catalog
    from tutor.llm.evaluate import evaluate_model
    from tutor.llm.recipe_data import load_notes, split_notes

    model_dir = Path(args.model_dir)
    if not (model_dir / "config.json").exists():
        print(f"no model in {model_dir}: run `tutor model build` first", file=sys.stderr)
        return 2
    notes = load_notes(REPO / "knowledge" / "notes")
    meta = model_dir / "metrics.json"
    held_ids = json.loads(meta.read_text())["data"]["notes_heldout"] if meta.exists() else None
    held = [n for n in notes if n.topic_id in held_ids] if held_ids else split_notes(notes, args.seed)[1]
    figures = evaluate_model(
        model_dir, load_catalog(), held, seed=args.seed, n_plans=args.plans, n_explain=args.explain
    )
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    h, lat, ex = figures["heldout"] or {}, figures["latency"], figures["explanations"]
    print(
        f"model               {model_dir} ({figures['params']:,} parameters), load {figures['load_s']} s "
        f"(first load in this process {figures['first_s']} s)"
    )
    print(
        f"held-out notes      loss {h.get('loss')}  perplexity {h.get('perplexity')}  ({h.get('tokens')} tokens)"
    )
    for level, p in figures["plans"].items():
        print(
            f"plans [{level:6}]     raw valid {p['raw_valid_rate']:.1%}  after repair {p['valid_after_repair_rate']:.1%}"
            f"  same as planner {p['same_as_planner_rate']:.1%}  ({p['n']} states, {p['mean_s']} s each)"
        )
    print(
        f"explanations        supported {ex['supported_share']:.1%} after the check (model alone "
        f"{ex['raw_supported_share']:.1%}), extractive {ex['extractive_rate']:.1%}, right passage cited "
        f"{ex['cites_right_passage_rate']:.1%}  ({ex['n']} questions)"
    )
    print(
        f"150-token answer    first token {lat['first_token_s']} s, whole {lat['answer_s']} s, "
        f"{lat['tokens_per_s']} tokens/s (prompt {lat['prompt_tokens']} tokens)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
