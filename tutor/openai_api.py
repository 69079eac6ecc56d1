"""The OpenAI-compatible API (``/v1/models``, ``/v1/chat/completions`` plain and streaming), so
any OpenAI client can embed the tutor; the ``user`` field (or a learner's API key) names the learner."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from tutor.api_common import Auth, LearnerId, TutorDep, in_threadpool, primed
from tutor.errors import BadInput

v1 = APIRouter(prefix="/v1", tags=["openai-compatible"])


class OpenAIMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class OpenAIChatIn(BaseModel):
    model: str = "tutor"
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    user: LearnerId | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = None


def _last_user_text(body: OpenAIChatIn) -> str:
    for m in reversed(body.messages):
        if m.role == "user":
            if isinstance(m.content, str):
                return m.content
            if isinstance(m.content, list):
                return " ".join(str(p.get("text", "")) for p in m.content if p.get("type") == "text")
    raise BadInput("messages contain no user message")


@v1.get("/models")
def v1_models(tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    now = int(time.time())
    data = [{"id": "tutor", "object": "model", "created": now, "owned_by": "tutor"}]
    return {"object": "list", "data": data}


@v1.post("/chat/completions", response_model=None)
def v1_chat(body: OpenAIChatIn, request: Request, tutor: TutorDep, who: Auth) -> Any:
    learner = who.learner_id or body.user or "openai-user"
    text = _last_user_text(body)
    thread_id = request.headers.get("x-tutor-thread")
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if not body.stream:
        out = tutor.chat(learner, text, thread_id=thread_id)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": out["reply"]},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "tutor": {"thread_id": out["thread_id"], "citations": out["citations"]},
        }
    events = primed(tutor.chat_stream(learner, text, thread_id=thread_id))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return json.dumps(
            {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def gen() -> Generator[str, None, None]:
        try:
            yield chunk({"role": "assistant", "content": ""})
            for ev in events:
                if ev["event"] == "token":
                    yield chunk({"content": ev["data"]})
            yield chunk({}, "stop")
            yield "[DONE]"
        finally:
            events.close()

    async def sse() -> AsyncIterator[dict[str, str]]:
        async for raw in in_threadpool(gen()):
            yield {"data": raw}

    return EventSourceResponse(sse())
