"""tutor/llm: the local backend (real decoding loop on a tiny random model), the fake and the
factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from tests.llm_helpers import ForceText, tiny_model_dir
from tutor.errors import BadInput, Unavailable
from tutor.llm import make_chat_model, model_label, supports_tools
from tutor.llm.chat_format import CHAT_TEMPLATE, END, render
from tutor.llm.fake import FakeChatModel
from tutor.llm.local import LocalChatModel, load_local_model, render_prompt


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory.mktemp("tiny") / "tiny-gpt")


@pytest.fixture
def llm(model_dir: Path) -> LocalChatModel:
    return make_chat_model("local", model_dir=model_dir, device="cpu", max_new_tokens=40)  # type: ignore[return-value]


def forced(llm: LocalChatModel, text: str) -> ForceText:
    tok = llm.loaded.tokenizer
    return ForceText(tok, text, tok.convert_tokens_to_ids(END))


def test_the_model_is_loaded_once_per_dir(llm: LocalChatModel, model_dir: Path) -> None:
    assert llm.loaded is load_local_model(model_dir, "cpu")
    assert llm.loaded.device == "cpu" and llm.loaded.dtype == "float32"
    assert model_label(llm) == "tiny-gpt"


def test_invoke_stops_at_the_end_marker_and_reports_usage(llm: LocalChatModel) -> None:
    proc = forced(llm, "hello world")
    reply = llm.invoke([SystemMessage("be brief"), HumanMessage("hi")], logits_processor=proc)
    assert reply.content == "hello world"
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] == len(proc.ids) - 1


def test_stream_pieces_add_up_to_the_reply(llm: LocalChatModel) -> None:
    pieces = [c.text for c in llm.stream("hi", logits_processor=forced(llm, "NumPy arrays broadcast"))]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces) == "NumPy arrays broadcast"


def test_stop_sequences_cut_and_are_never_streamed(llm: LocalChatModel) -> None:
    text = "NumPy arrays broadcast when trailing dimensions match"
    pieces = [c.text for c in llm.stream("hi", stop=["when"], logits_processor=forced(llm, text))]
    assert "".join(pieces) == "NumPy arrays broadcast "
    assert llm.invoke("hi", stop=["arrays"], logits_processor=forced(llm, text)).content == "NumPy "


def test_max_new_tokens_caps_the_reply(llm: LocalChatModel) -> None:
    proc = forced(llm, "hello world " * 20)
    reply = llm.invoke("hi", max_new_tokens=5, logits_processor=proc)
    assert reply.usage_metadata and reply.usage_metadata["output_tokens"] == 5 and proc.calls == 5


def test_a_consumer_that_stops_iterating_stops_generation(llm: LocalChatModel) -> None:
    proc = forced(llm, "hello world " * 20)
    stream = llm.stream("hi", max_new_tokens=200, logits_processor=proc)
    for n, _ in enumerate(stream):
        if n == 3:
            break
    stream.close()  # type: ignore[attr-defined]
    calls = proc.calls
    assert calls < 10, calls  # the loop ended with the consumer, not after 200 tokens


def test_long_prompts_keep_their_end(llm: LocalChatModel) -> None:
    reply = llm.invoke("hello world " * 400, max_new_tokens=3)
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] <= llm.loaded.max_positions - 3


def test_chat_template_is_the_python_renderer(llm: LocalChatModel) -> None:
    msgs = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    assert llm.loaded.tokenizer.chat_template == CHAT_TEMPLATE
    assert render_prompt(llm.loaded.tokenizer, msgs)[0] == render(msgs)


def test_a_tokenizer_without_template_gets_a_plain_transcript() -> None:
    class Plain:
        chat_template = None

    text, stops = render_prompt(Plain(), [{"role": "user", "content": "hi"}])
    assert text == "User: hi\nAssistant:" and "\nUser:" in stops


def test_the_local_model_does_not_claim_tool_calling(llm: LocalChatModel) -> None:
    assert not supports_tools(llm)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"backend": "gpt5"}, BadInput, "unknown chat backend"),
        ({"backend": "openai"}, BadInput, "TUTOR_LLM_BASE_URL"),
        ({"backend": "openai", "base_url": "localhost:8000"}, BadInput, "http"),
        ({"backend": "local", "model_dir": "/nonexistent/model"}, Unavailable, "tutor model build"),
    ],
)
def test_factory_refuses_bad_settings(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make_chat_model(**kwargs)


def test_openai_backend_is_chat_openai_with_tools() -> None:
    llm = make_chat_model("openai", base_url="http://127.0.0.1:9/v1", model="qwen", max_new_tokens=7)
    assert type(llm).__name__ == "ChatOpenAI" and supports_tools(llm)
    assert model_label(llm) == "qwen" and llm.max_tokens == 7  # type: ignore[attr-defined]


def test_fake_cycles_replies_and_streams_them() -> None:
    fake = make_chat_model("fake", replies=["one two", "three"])
    assert [fake.invoke("a").content, fake.invoke("b").content, fake.invoke("c").content] == [
        "one two",
        "three",
        "one two",
    ]
    assert "".join(c.content for c in fake.stream("d")) == "three"  # type: ignore[misc]


def test_fake_streams_tool_calls_when_asked() -> None:
    call = {"name": "search", "args": {"q": "numpy"}, "id": "c1"}
    fake = FakeChatModel(replies=[AIMessage(content="", tool_calls=[call])], tool_calling=True)
    bound = fake.bind_tools([])
    acc = None
    for chunk in bound.stream("x"):
        acc = chunk if acc is None else acc + chunk
    assert acc is not None and acc.tool_calls[0]["args"] == {"q": "numpy"}
    with pytest.raises(NotImplementedError):
        FakeChatModel().bind_tools([])


def test_fake_respond_sees_the_messages_and_stop_applies() -> None:
    fake = FakeChatModel(respond=lambda msgs: f"echo {msgs[-1].content} END more")
    assert fake.invoke("hey", stop=[" END"]).content == "echo hey"
    assert len(fake.calls) == 1
