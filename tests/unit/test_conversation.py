"""Conversations: the chat result shape, streaming, threads that survive a restart, and
learners who never see each other's threads or progress."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_helpers import Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def test_chat_returns_the_contract_shape_and_a_new_thread(rig: Rig) -> None:
    out = rig.conv.chat("ann", "what is broadcasting in numpy?")
    assert set(out) == {"thread_id", "reply", "citations", "tool_calls"}
    assert out["thread_id"] and out["reply"]
    assert out["citations"] and all({"topic_id", "source"} <= set(c) for c in out["citations"])
    assert rig.conv.threads("ann")[0] == {
        "thread_id": out["thread_id"],
        "title": "what is broadcasting in numpy?",
        "created": rig.conv.threads("ann")[0]["created"],
    }


def test_per_turn_fields_do_not_leak_into_the_next_turn(rig: Rig) -> None:
    first = rig.conv.chat("ann", "what is broadcasting in numpy?")
    second = rig.conv.chat("ann", "hello", first["thread_id"])
    assert first["citations"] and second["citations"] == [] and second["tool_calls"] == []


def test_stream_tokens_add_up_to_the_reply_and_tools_are_reported(rig: Rig) -> None:
    events = list(rig.conv.stream("ann", "```python\nprint(6 * 7)\n```"))
    kinds = [e["event"] for e in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert kinds.index("tool") < len(kinds) - 1
    tool = next(e["data"] for e in events if e["event"] == "tool")
    assert tool["name"] == "run_code" and tool["status"] == "ok"
    done = events[-1]["data"]
    assert "".join(e["data"] for e in events if e["event"] == "token") == done["reply"]
    assert "42" in done["reply"] and done["tool_calls"] == [tool]


def test_stream_of_a_model_reply_streams_while_generating(rig: Rig) -> None:
    events = list(rig.conv.stream("ann", "tell me a joke"))
    tokens = [e["data"] for e in events if e["event"] == "token"]
    assert len(tokens) > 5
    assert "".join(tokens) == events[-1]["data"]["reply"]
    assert events[-1]["data"]["reply"].startswith("Happy to chat!")


def test_thread_survives_recreating_the_service(rig: Rig) -> None:
    out = rig.conv.chat("ann", "give me numpy-double")
    tid = out["thread_id"]
    conv2 = rig.reopen()  # a new store, checkpointer and graph on the same data dir
    reply = conv2.chat("ann", "grade this\n```python\ndef double(x):\n    return 2 * x\n```", tid)["reply"]
    assert "All tests of `numpy-double` pass" in reply  # the current exercise came back from the checkpoint
    thread = conv2.thread(tid, "ann")
    assert thread["learner_id"] == "ann" and thread["title"] == "give me numpy-double"
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant", "user", "assistant"]
    assert thread["messages"][0]["content"] == "give me numpy-double"


def test_two_learners_never_see_each_others_threads_or_progress(rig: Rig) -> None:
    ann = rig.conv.chat("ann", "give me numpy-double")
    rig.conv.chat("ann", "grade this\n```python\ndef double(x):\n    return 2 * x\n```", ann["thread_id"])
    bob = rig.conv.chat("bob", "hello")
    with pytest.raises(PermissionError, match="belongs to another learner"):
        rig.conv.chat("bob", "grade this", ann["thread_id"])
    with pytest.raises(PermissionError):
        rig.conv.thread(ann["thread_id"], "bob")
    with pytest.raises(PermissionError):
        list(rig.conv.stream("bob", "hi", ann["thread_id"]))
    assert [t["thread_id"] for t in rig.conv.threads("bob")] == [bob["thread_id"]]
    assert "No graded attempts yet" in rig.conv.chat("bob", "how am i doing?", bob["thread_id"])["reply"]
    assert "NumPy (`m1.numpy`)" in rig.conv.chat("ann", "how am i doing?", ann["thread_id"])["reply"]


def test_bad_requests(rig: Rig) -> None:
    with pytest.raises(ValueError, match="message is empty"):
        rig.conv.chat("ann", "   ")
    with pytest.raises(ValueError, match="learner_id is empty"):
        rig.conv.chat("", "hi")
    with pytest.raises(LookupError, match="not found"):
        rig.conv.thread("no-such-thread")


def test_a_client_chosen_thread_id_is_created_for_its_learner(rig: Rig) -> None:
    rig.conv.chat("ann", "hi", "my-thread")
    assert rig.store.thread_owner("my-thread") == "ann"
