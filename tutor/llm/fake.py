"""Scripted chat model for tests: replies come from a list (cycled) or a function of the messages.

Built on LangChain's ``GenericFakeChatModel``; unlike it, streaming also carries tool calls (as
tool-call chunks), and ``bind_tools`` works when ``tool_calling=True``, so the agent's
tool-calling path can be tested without a real model.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

Reply = str | AIMessage
DEFAULT_REPLY = "This is a scripted reply from the fake chat model."


class FakeChatModel(GenericFakeChatModel):
    """``replies`` cycle forever; ``respond(messages)`` overrides them when given."""

    replies: list[Any] = [DEFAULT_REPLY]
    respond: Callable[[list[BaseMessage]], Reply] | None = None
    tool_calling: bool = False
    messages: Iterator[Any] = iter(())  # unused: set from ``replies`` below
    calls: list[list[BaseMessage]] = []

    def model_post_init(self, context: Any) -> None:
        self.messages = itertools.cycle(self.replies or [DEFAULT_REPLY])
        self.calls = []

    @property
    def _llm_type(self) -> str:
        return "fake"

    @property
    def model_name(self) -> str:
        return "fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        if not self.tool_calling:
            raise NotImplementedError("this fake model was made without tool_calling=True")
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        reply = self.respond(messages) if self.respond is not None else next(self.messages)
        msg = AIMessage(content=reply) if isinstance(reply, str) else reply
        if stop and isinstance(msg.content, str):
            cuts = [i for i in (msg.content.find(s) for s in stop) if i >= 0]
            if cuts:
                msg = msg.model_copy(update={"content": msg.content[: min(cuts)]})
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._generate(messages, stop=stop, **kwargs).generations[0].message
        assert isinstance(msg, AIMessage)
        text = msg.content if isinstance(msg.content, str) else msg.text
        pieces = (
            [p for p in itertools.chain.from_iterable((w, " ") for w in text.split(" "))][:-1] if text else []
        )
        for piece in pieces:
            if not piece:
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, id=msg.id))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        for n, call in enumerate(msg.tool_calls):
            tc = {"name": call["name"], "args": json.dumps(call["args"]), "id": call.get("id"), "index": n}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", id=msg.id, tool_call_chunks=[tc]))  # type: ignore[list-item]


def make_fake_chat(replies: Sequence[Reply] | None = None, **kwargs: Any) -> FakeChatModel:
    return FakeChatModel(replies=list(replies or [DEFAULT_REPLY]), **kwargs)
