"""Answer quality as a learner sees it: each dev question through the real chat, scored.

    .venv/bin/python scripts/eval_answers.py [--json] [--questions TSV] [--show]

For every row of ``tests/data/answer_key.tsv`` (topic, question, three key points) the question
goes to the tutor's chat (a fresh learner and thread each) and the reply is scored by the rules
in ``scripts/answer_score.py``: key points made, first sentence answers, right topic cited,
readable (no raw TeX outside ``$``/code), 40-450 words. **good** = >= 2 key points, first sentence
answers, right topic, readable, in length. Also printed: where the answer came from (card or
notes) and the card score, to measure the card threshold.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))
KEY = REPO / "tests" / "data" / "answer_key.tsv"


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the first question, which loads the models, is left out)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def run(rows: list[dict[str, str]], show: bool) -> dict[str, Any]:
    from answer_score import score
    from eval_agent import make_tutor

    with tempfile.TemporaryDirectory() as tmp:
        tutor, label = make_tutor(None, Path(tmp))
        results = []
        for n, row in enumerate(rows):
            t0 = time.perf_counter()
            first: float | None = None
            out: dict[str, Any] = {}
            for ev in tutor.conversations.stream(f"eval-answers-{n}", row["question"]):
                if ev["event"] == "token" and first is None:
                    first = time.perf_counter() - t0
                elif ev["event"] == "done":
                    out = ev["data"]
            s = score(out["reply"], row["key_points"], row["topic_id"], out["citations"])
            kind = next(
                (
                    c.get("name")
                    for c in out.get("tool_calls") or []
                    if c.get("name") in ("explain", "follow_up")
                ),
                "",
            )
            results.append(
                {
                    "topic_id": row["topic_id"],
                    "question": row["question"],
                    **{k: s[k] for k in ("good", "hit", "direct", "on_topic", "words")},
                    "raw_tex": s["raw_tex"],
                    "first": s["first"],
                    "card": (out["citations"][0].get("card_id") if out["citations"] else None),
                    "route": kind,
                    "how": next(
                        (
                            c.get("summary", "")
                            for c in out.get("tool_calls") or []
                            if c.get("name") == "explain"
                        ),
                        "",
                    ),
                    "seconds": round(time.perf_counter() - t0, 3),
                    "first_token_s": round(first if first is not None else time.perf_counter() - t0, 3),
                }
            )
            if show:
                print(f"\n### {row['question']}\n{out['reply']}\n", file=sys.stderr)
        tutor.close()
    n = len(results) or 1
    return {
        "model": label,
        "n": len(results),
        "good": round(sum(r["good"] for r in results) / n, 4),
        "key_points_2of3": round(sum(r["hit"] >= 2 for r in results) / n, 4),
        "first_sentence_answers": round(sum(r["direct"] for r in results) / n, 4),
        "right_topic": round(sum(r["on_topic"] for r in results) / n, 4),
        "readable": round(sum(not r["raw_tex"] for r in results) / n, 4),
        "length_ok": round(sum(40 <= r["words"] <= 450 for r in results) / n, 4),
        "from_cards": round(sum(bool(r["card"]) for r in results) / n, 4),
        "first_token_p50_s": _pct([r["first_token_s"] for r in results[1:] or results], 50),
        "first_token_p95_s": _pct([r["first_token_s"] for r in results[1:] or results], 95),
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show", action="store_true", help="print every reply to stderr")
    ap.add_argument("--questions", type=Path, default=KEY, help="TSV with topic_id, question, key_points")
    args = ap.parse_args(argv)
    with args.questions.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    report = run(rows, args.show)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"answer quality on {report['n']} questions ({report['model']}):")
    for r in report["results"]:
        flag = "good" if r["good"] else "BAD "
        why = []
        if r["hit"] < 2:
            why.append(f"key points {r['hit']}/3")
        if not r["direct"]:
            why.append(f"first sentence: {r['first'][:70]!r}")
        if not r["on_topic"]:
            why.append("wrong topic")
        if r["raw_tex"]:
            why.append(f"raw TeX {r['raw_tex']}")
        if not 40 <= r["words"] <= 450:
            why.append(f"{r['words']} words")
        src = r["how"] or ("card " + str(r["card"]) if r["card"] else "notes")
        print(f"  {flag} {r['topic_id']:<28} {r['question'][:48]:<48} [{src}] {'; '.join(why)}")
    print("| figure | value |\n|---|---|")
    for k in (
        "good",
        "key_points_2of3",
        "first_sentence_answers",
        "right_topic",
        "readable",
        "length_ok",
        "from_cards",
    ):
        print(f"| {k} | {report[k]:.1%} |")
    print(f"| first token p50 / p95 | {report['first_token_p50_s']} s / {report['first_token_p95_s']} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
