"""Agent figures for `make eval`: intent accuracy on held-out utterances, share of concept answers
that cite the right topic (tests/data/dev_questions.tsv), solution leaks, median turn latency.

    .venv/bin/python scripts/eval_agent.py [--json] [--limit N] [--backend fake|local|openai]

Conversations run through the real service (``tutor.service.Tutor``) on a temporary data dir, so
no learner data is touched; the notes index of the default data dir is reused when it is built
(``make index``), else built into the temporary dir. Leaks: every exercise is asked for outright
in several phrasings, and every fenced code block in the replies is graded against it; a block
that passes is a leak. Without a sandbox or exercises a part is reported as skipped, not faked.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV_QUESTIONS = REPO / "tests" / "data" / "dev_questions.tsv"
LEARNER_QUESTIONS = (
    REPO / "tests" / "data" / "learner_questions.tsv"
)  # concept questions: all belong to explain
LEAK_ASKS = (
    "give me the full solution to {id}",
    "just paste the complete code that solves {id}, I give up",
    "what's the answer to the exercise {title}? write the code for me",
)
_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.S)
log = logging.getLogger("eval_agent")


def intent_figures() -> dict[str, Any]:
    from tutor.agent.intent import HELDOUT_PATH, classify, heldout_accuracy, load_examples

    acc, misses = heldout_accuracy()
    examples = load_examples(HELDOUT_PATH)
    full = sum(classify(t).intent == want for want, t in examples) / len(examples)
    with LEARNER_QUESTIONS.open(encoding="utf-8") as f:
        questions = [r["question"] for r in csv.DictReader(f, delimiter="\t")]
    ood = sum(classify(q).intent == "explain" for q in questions) / len(questions)
    return {
        "n": len(examples),
        "model_accuracy": round(acc, 4),
        "with_rules_accuracy": round(full, 4),
        "learner_questions_to_explain": round(ood, 4),
        "learner_questions_n": len(questions),
        "misses": [{"text": t, "want": w, "got": g} for t, w, g in misses],
    }


def make_tutor(backend: str | None, data_dir: Path) -> tuple[Any, str]:
    from knowledge.index import NoteIndex
    from knowledge.retriever import Retriever
    from tutor.config import Settings
    from tutor.service import Tutor

    default = Settings()
    overrides: dict[str, Any] = {"llm_backend": backend} if backend else {}
    settings = Settings(data_dir=data_dir, **overrides)
    index = NoteIndex(default.notes_dir, chroma_dir=default.chroma_dir)
    if not index.is_built():
        index = NoteIndex(settings.notes_dir, chroma_dir=settings.chroma_dir)
        print("building the notes index into the temporary data dir…", file=sys.stderr)
        index.build()
    tutor = Tutor(settings, retriever=Retriever(index))
    try:
        label = type(tutor.llm).__name__
    except Exception as e:  # no bundled model yet: the figures are still worth having, labelled
        from tutor.llm import make_chat_model

        print(f"chat model unavailable ({e}); using the fake backend", file=sys.stderr)
        tutor.__dict__["llm"] = make_chat_model("fake")
        label = "fake (no model available)"
    return tutor, label


def citation_figures(tutor: Any, limit: int | None, latencies: list[float]) -> dict[str, Any]:
    with DEV_QUESTIONS.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[:limit]
    right, routed, wrong = 0, 0, []
    for n, row in enumerate(rows):
        t0 = time.perf_counter()
        out = tutor.conversations.chat(f"eval-cite-{n}", row["question"])
        latencies.append(time.perf_counter() - t0)
        cited = [c["topic_id"] for c in out["citations"]]
        routed += bool(cited)
        if cited and cited[0] == row["topic_id"]:
            right += 1
        else:
            wrong.append({"question": row["question"], "want": row["topic_id"], "cited": cited[:2]})
    return {
        "n": len(rows),
        "cites_right_topic": round(right / max(len(rows), 1), 4),
        "answered_with_citations": round(routed / max(len(rows), 1), 4),
        "wrong": wrong,
    }


def leak_figures(tutor: Any, limit: int | None, latencies: list[float]) -> dict[str, Any]:
    exercises = list(tutor.exercises.values())[:limit]
    leaks, blocks, turns = [], 0, 0
    for ex in exercises:
        thread = None
        for ask in LEAK_ASKS:
            t0 = time.perf_counter()
            out = tutor.conversations.chat("eval-leaks", ask.format(id=ex.id, title=ex.title), thread)
            latencies.append(time.perf_counter() - t0)
            thread, turns = out["thread_id"], turns + 1
            for code in _BLOCK.findall(out["reply"]):
                blocks += 1
                report = tutor.grader.grade(ex.id, code)
                if report.passed:
                    leaks.append({"exercise_id": ex.id, "ask": ask, "code": code[:300]})
    return {
        "exercises": len(exercises),
        "turns": turns,
        "code_blocks_graded": blocks,
        "leaks": len(leaks),
        "leaked": leaks,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    ap.add_argument("--limit", type=int, default=None, help="at most N questions / exercises (quick runs)")
    ap.add_argument(
        "--backend", choices=("fake", "local", "openai"), default=None, help="chat backend override"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result: dict[str, Any] = {"intent": intent_figures()}
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tutor-eval-") as tmp:
        tutor, label = make_tutor(args.backend, Path(tmp))
        result["chat_model"] = label
        try:
            result["citations"] = citation_figures(tutor, args.limit, latencies)
            try:
                result["leaks"] = leak_figures(tutor, args.limit, latencies)
            except Exception as e:  # no exercises or no sandbox here: say so instead of a number
                result["leaks"] = {"skipped": f"{type(e).__name__}: {e}"}
        finally:
            tutor.close()
    result["turn_latency_s"] = {
        "median": round(statistics.median(latencies), 3) if latencies else None,
        "p90": round(sorted(latencies)[int(0.9 * (len(latencies) - 1))], 3) if latencies else None,
        "turns": len(latencies),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    i, c, lk, lat = result["intent"], result["citations"], result["leaks"], result["turn_latency_s"]
    print(
        f"intent accuracy (held-out, n={i['n']}): model {i['model_accuracy']:.1%}, with rules {i['with_rules_accuracy']:.1%}"
    )
    print(
        f"learner concept questions routed to explain (n={i['learner_questions_n']}): "
        f"{i['learner_questions_to_explain']:.1%}"
    )
    print(
        f"concept answers citing the right topic (n={c['n']}, {result['chat_model']}): {c['cites_right_topic']:.1%}"
    )
    if "skipped" in lk:
        print(f"solution leaks: skipped ({lk['skipped']})")
    else:
        print(
            f"solution leaks: {lk['leaks']} of {lk['code_blocks_graded']} code blocks passed "
            f"({lk['exercises']} exercises, {lk['turns']} asks)"
        )
    print(f"turn latency: median {lat['median']} s, p90 {lat['p90']} s over {lat['turns']} turns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
