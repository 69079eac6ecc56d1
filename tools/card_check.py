"""``python -m tools.card_check [TOPIC_ID...] [--no-run]``: the maintainers' check of the teaching
cards (``knowledge/cards/*.yaml``, format in ``docs/content.md``). It validates every card, checks
that each "Check yourself" question links to a practice item, and runs each worked example in a
sandboxed kernel (``tools.kernel``), comparing what it prints with the card's ``Output:`` block.

It lives in ``tools`` and not in ``knowledge.cards`` because running code is a tool: ``knowledge``
never imports ``tools`` (``tests/unit/test_layers.py``)."""

from __future__ import annotations

import sys
import tempfile

from knowledge.cards import (
    CARDS_DIR,
    Card,
    CardFormatError,
    output_matches,
    parse_cards,
    runner_code,
    validate,
)


def main(argv: list[str]) -> int:  # pragma: no cover - a maintainer's command
    if argv and argv[0] == "check":  # the old spelling, `python -m knowledge.cards check ...`
        argv = argv[1:]
    if any(a in ("-h", "--help") for a in argv):
        print("usage: python -m tools.card_check [TOPIC_ID...] [--no-run]")
        return 0
    run = "--no-run" not in argv
    topics = [a for a in argv if not a.startswith("--")]
    cards: list[Card] = []
    problems: list[str] = []
    for path in sorted(CARDS_DIR.glob("*.yaml")):
        if topics and path.stem not in topics:
            continue
        try:
            cards.extend(parse_cards(path))
        except CardFormatError as e:
            problems.append(str(e))
    from curriculum.practice import PracticeError, bundled_practice

    try:
        practice_ids: set[str] | None = set(bundled_practice())
    except PracticeError as e:  # the practice items have their own checker; say why links went unchecked
        print(f"practice links not checked: {e}")
        practice_ids = None
    problems += validate(cards, practice_ids=practice_ids)
    if run:
        from tools.kernel import KernelManager

        with tempfile.TemporaryDirectory() as tmp, KernelManager(tmp, pool_size=1, max_timeout_s=60) as km:
            last = ""
            for c in cards:
                if c.example_code is None:
                    continue
                if last and last != c.topic_id:  # one kernel per topic (memory), one at a time
                    km.reset(last)
                last = c.topic_id
                r = km.execute(runner_code(c), session_id=c.topic_id, timeout_s=30)
                if r.status != "ok":
                    problems.append(f"{c.path.name}:{c.id}: example failed: {r.error or r.stderr[:300]}")
                elif not output_matches(c.example_code[1], r.stdout):
                    problems.append(
                        f"{c.path.name}:{c.id}: example printed\n{r.stdout}\n--- but the card says\n{c.example_code[1]}"
                    )
    for p in problems:
        print(p)
    n_topics = len({c.topic_id for c in cards})
    print(f"{len(cards)} cards on {n_topics} topics: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
