"""The answer-quality rules (the same as the project check on learner questions we do not see).

A key is three key points, each a regular expression of alternatives (`broadcast;size 1|length 1;stretch`),
matched case-insensitively in the reply.

    score(reply, key_points, topic_id, citations) -> dict with "good" and the parts behind it
"""

# ruff: noqa
import re


def strip_code_math(t):
    t = re.sub(r"```.*?```", " ", t, flags=re.S)
    t = re.sub(r"`[^`]*`", " ", t)
    t = re.sub(r"\$\$.*?\$\$", " ", t, flags=re.S)
    return re.sub(r"\$[^$\n]+\$", " ", t)


def body_of(reply):
    """The answer itself: before the sources / next-step lines, without a 'From the notes:' lead."""
    body = re.split(r"\n\s*(?:\*\*)?(?:Sources?|Next|Check yourself|Ask me)\b", reply, maxsplit=1)[0]
    return re.sub(r"^\s*(?:From the (?:course )?notes:)\s*", "", body.strip(), flags=re.I)


def first_sentence(text):
    text = re.sub(r"\s+", " ", strip_code_math(text)).strip()
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:400]


DANGLING = re.compile(r"^(that|this|these|those|it|they|so|but|and|also|however|in plain words: it)\b", re.I)


def score(reply, key_points, topic_id, citations):
    low = reply.lower()
    points = [p for p in key_points.split(";") if p]
    hit = sum(bool(re.search(p, low)) for p in points)
    body = body_of(reply)
    first = first_sentence(body)
    direct = (
        not first.endswith("?")
        and not DANGLING.search(first)
        and any(re.search(p, first.lower()) for p in points)
    )
    on_topic = any(c.get("topic_id") == topic_id for c in citations)
    raw_tex = re.findall(r"\\[a-zA-Z]{2,}", strip_code_math(reply))
    n = len(reply.split())
    good = hit >= 2 and direct and on_topic and not raw_tex and 40 <= n <= 450
    return {
        "hit": hit,
        "direct": direct,
        "first": first,
        "on_topic": on_topic,
        "raw_tex": raw_tex[:3],
        "words": n,
        "good": good,
    }
