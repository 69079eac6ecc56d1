"""``tutor practice``: practice items in the terminal (registered by ``tutor/cli/``).

Interactive by default: asks the learner's next item (due review first, then ``--topic`` or the
weakest topic), reads the answer (``hint``, ``skip``, ``I don't know``, ``quit``; code ends with a
line holding only ``.``), prints the verdict, the explanation and the mastery, and goes on.
With ``--json`` it is one step: without ``--answer`` it prints the next item; with ``--item`` and
``--answer`` it prints the result of that answer (``{"correct", "feedback", "explanation",
"mastery": {"topic_id", "before", "after"}, "next_review", ...}``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tutor.errors import BadInput

LETTERS = "ABCDE"


def practice(
    learner: Annotated[str, typer.Option("--learner", "-l", help="Learner id.")],
    topic: Annotated[
        str | None, typer.Option("--topic", "-t", help="Topic id, e.g. m2.attention-math.")
    ] = None,
    item: Annotated[str | None, typer.Option("--item", help="Item id to answer (with --answer).")] = None,
    answer: Annotated[
        str | None, typer.Option("--answer", help="Answer to --item (option text or 0-based index).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Practise: answer check questions for a topic; mastery and reviews update after each."""
    from tutor import cli

    with cli._tutor() as t:
        if answer is not None or item is not None:
            if not (answer and item):
                raise BadInput("--item and --answer go together")
            cli._emit(t.practice.answer(learner, item, answer).to_dict(), as_json, _result_text)
            return
        if as_json:
            cli._emit(t.practice.next_item(learner, topic), True)
            return
        _loop(t, learner, topic)


def _loop(t: Any, learner: str, topic: str | None) -> None:
    asked: list[str] = []
    while True:
        nxt = t.practice.next_item(learner, topic, exclude=asked)
        if nxt["id"] in asked:
            typer.echo("That was every question here. Well done!")
            return
        asked.append(nxt["id"])
        typer.echo(f"\n[{nxt['topic_id']} · {nxt['reason']}] {_item_text(nxt)}")
        hinted = False
        while True:
            reply = _read_answer(nxt["kind"])
            if reply is None or reply.strip().lower() in ("quit", "exit", "q"):
                return
            word = reply.strip().lower()
            if word == "hint":
                typer.echo(f"Hint: {t.practice.hint(nxt['id'])}")
                hinted = True
                continue
            if word == "skip":
                break
            if word in ("i don't know", "i dont know", "idk"):
                typer.echo(_result_text(t.practice.give_up(learner, nxt["id"]).to_dict()))
                break
            value: Any = LETTERS.index(word.upper()) if nxt["kind"] == "multiple_choice" and len(word) == 1 and word.upper() in LETTERS else reply  # fmt: skip
            try:
                result = t.practice.answer(learner, nxt["id"], value, hinted=hinted)
            except BadInput as e:
                typer.echo(f"Couldn't read that: {e.message}. Try again (or hint / skip / quit).")
                continue
            typer.echo(_result_text(result.to_dict()))
            break


def _item_text(item: dict[str, Any]) -> str:
    lines = [str(item["prompt"]).strip()]
    for i, choice in enumerate(item.get("choices") or []):
        lines.append(f"  {LETTERS[i]}. {choice}")
    if item["kind"] == "code":
        lines += [
            "",
            str(item.get("starter", "")).rstrip(),
            "",
            "(type your code; end with a line holding only '.')",
        ]
    lines.append("Answer (or hint / skip / I don't know / quit):")
    return "\n".join(lines)


def _read_answer(kind: str) -> str | None:
    try:
        if kind != "code":
            return input("> ")
        lines = []
        while (line := input()) != ".":
            lines.append(line)
            if line.strip().lower() in ("hint", "skip", "quit") and len(lines) == 1:
                return line
        return "\n".join(lines)
    except EOFError:
        return None


def _result_text(r: dict[str, Any]) -> str:
    head = "Right!" if r["correct"] else "Not quite."
    lines = [f"{head} {r['feedback']}"]
    if not r["correct"] and r.get("right_answer"):
        lines.append(f"Answer: {r['right_answer']}")
    m = r["mastery"]
    lines += [r["explanation"], f"Mastery of {m['topic_id']}: {m['before']:.0%} -> {m['after']:.0%}; "
              f"next review {str(r.get('next_review') or '-')[:10]}"]  # fmt: skip
    return "\n".join(lines)
