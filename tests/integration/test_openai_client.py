"""``/v1`` as OpenAI-style clients use it, with the official ``openai`` client against a real
``tutor serve``: every reply names its thread in the ``X-Tutor-Thread`` header (plain and
streamed), the header continues that thread, and a stateless client's history (the whole
conversation in ``messages``) is the context of its last message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.served import ServedTutor, served_tutor  # noqa: F401 - the fixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "What are the broadcasting rules?"
WHY = "rubber stamp"  # words of the sample card's "why" part (tests/data/sample_cards/t1.arrays.yaml)


def _client(srv: ServedTutor) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=srv.url + "/v1", api_key="not-needed", max_retries=0, timeout=180)


def _thread(srv: ServedTutor, thread_id: str) -> dict[str, Any]:
    r = httpx.get(f"{srv.url}/api/threads/{thread_id}", timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_replies_name_their_thread_plain_and_streamed(served_tutor: ServedTutor) -> None:  # noqa: F811
    client = _client(served_tutor)
    ask = [{"role": "user", "content": QUESTION}]
    raw = client.chat.completions.with_raw_response.create(model="tutor", messages=ask, user="oc-ada")  # type: ignore[arg-type]
    thread_id = raw.headers.get("x-tutor-thread")
    out = raw.parse()
    assert thread_id and out.choices[0].message.content
    assert out.model_extra and out.model_extra["tutor"]["thread_id"] == thread_id

    # streamed: the header comes with the response, before the first token
    more = [{"role": "user", "content": "And shapes?"}]
    with client.chat.completions.with_streaming_response.create(
        model="tutor",
        messages=more,  # type: ignore[arg-type]
        user="oc-ada",
        stream=True,
        extra_headers={"X-Tutor-Thread": thread_id},
    ) as resp:
        assert resp.headers.get("x-tutor-thread") == thread_id  # the header continued the thread
        text = "".join(chunk.choices[0].delta.content or "" for chunk in resp.parse() if chunk.choices)
    assert text.strip()
    contents = [m["content"] for m in _thread(served_tutor, thread_id)["messages"]]
    assert contents[0] == QUESTION and "And shapes?" in contents

    with client.chat.completions.with_streaming_response.create(
        model="tutor",
        messages=ask,  # type: ignore[arg-type]
        user="oc-ada",
        stream=True,
    ) as fresh:
        new_id = fresh.headers.get("x-tutor-thread")
        assert "".join(c.choices[0].delta.content or "" for c in fresh.parse() if c.choices).strip()
    assert new_id and new_id != thread_id  # no header, no history: a new thread, named
    assert _thread(served_tutor, new_id)["learner_id"] == "oc-ada"


def test_history_in_messages_is_the_context(served_tutor: ServedTutor) -> None:  # noqa: F811
    client = _client(served_tutor)
    first = client.chat.completions.create(
        model="tutor",
        messages=[{"role": "user", "content": QUESTION}],
        user="oc-bo",
    )
    history = [
        {"role": "system", "content": "You are a helpful tutor."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "why?"},
    ]
    raw = client.chat.completions.with_raw_response.create(model="tutor", messages=history, user="oc-bo")  # type: ignore[arg-type]
    follow_up = raw.parse().choices[0].message.content or ""
    assert WHY in follow_up, follow_up  # "why?" went on from the card of the earlier question
    alone = client.chat.completions.create(
        model="tutor", messages=[{"role": "user", "content": "why?"}], user="oc-bo"
    )
    assert WHY not in (alone.choices[0].message.content or "")  # the control: no history, no card

    seeded = _thread(served_tutor, raw.headers["x-tutor-thread"])
    assert [m["role"] for m in seeded["messages"]] == ["user", "assistant", "user", "assistant"]
    assert seeded["messages"][0]["content"] == QUESTION and seeded["messages"][2]["content"] == "why?"

    # streamed, the same history gives the same follow-up
    stream = client.chat.completions.create(model="tutor", messages=history, user="oc-bo", stream=True)  # type: ignore[arg-type]
    assert WHY in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_a_thread_of_another_learner_is_refused(served_tutor: ServedTutor) -> None:  # noqa: F811
    import openai

    client = _client(served_tutor)
    raw = client.chat.completions.with_raw_response.create(
        model="tutor",
        messages=[{"role": "user", "content": QUESTION}],
        user="oc-cy",
    )
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(
            model="tutor",
            messages=[{"role": "user", "content": "why?"}],
            user="oc-dee",
            extra_headers={"X-Tutor-Thread": raw.headers["x-tutor-thread"]},
        )
