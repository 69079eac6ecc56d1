"""The OpenAI-compatible API (``/v1/models``, ``/v1/chat/completions`` plain and streaming), so
any OpenAI client can embed the tutor; the ``user`` field (or a learner's API key) names the learner.
Stateless clients resend the whole conversation: its earlier turns seed the thread
(``tutor/web/v1_history.py``), and every reply names its thread in the ``X-Tutor-Thread`` header."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from tutor.errors import BadInput, as_tutor_error
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, LearnerId, TutorDep, error_body, in_threadpool, primed
from tutor.web.api.schemas import out
from tutor.web.v1_history import seed_thread, split_history

v1 = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=m.ERROR_RESPONSES)
THREAD_HEADER = "X-Tutor-Thread"  # request: continue this thread; response: the turn's thread


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


@v1.get("/models", **out(m.V1ModelsOut))
def v1_models(tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    now = int(time.time())
    data = [{"id": "tutor", "object": "model", "created": now, "owned_by": "tutor"}]
    return {"object": "list", "data": data}


@v1.post("/chat/completions", response_model=None, responses=m.V1_CHAT_RESPONSES)
def v1_chat(body: OpenAIChatIn, request: Request, tutor: TutorDep, who: Auth) -> Any:
    """One turn. With ``X-Tutor-Thread`` the turn continues that thread (its own context); without
    it the earlier turns in ``messages`` seed a new thread. Either way the reply's
    ``X-Tutor-Thread`` header (and ``tutor.thread_id`` in a plain reply) names the thread."""
    learner = who.learner_id or body.user or "openai-user"
    earlier, text = split_history(body.messages)
    if text is None:
        raise BadInput("messages contain no user message")
    thread_id = request.headers.get("x-tutor-thread") or None
    if thread_id is None:
        limit = tutor.settings.max_message_chars  # checked before a thread is made for the turn
        if not text.strip() or len(text) > limit:
            raise BadInput(f"the last user message is empty or over {limit} characters")
        thread_id = seed_thread(tutor, learner, earlier) if earlier else uuid.uuid4().hex
    headers = {THREAD_HEADER: thread_id}
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if not body.stream:
        out = tutor.chat(learner, text, thread_id=thread_id)
        reply = {
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
        return JSONResponse(reply, headers=headers)
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
        # an error once the 200 is sent ends the stream with one ``data: {"error": {...}}`` (the
        # API's error body), which OpenAI's clients raise as an APIError, not a silent cut-off
        try:
            async for raw in in_threadpool(gen()):
                yield {"data": raw}
        except Exception as e:  # not the client going away: that is a CancelledError
            yield {"data": json.dumps(error_body(as_tutor_error(e, "/v1/chat/completions")))}

    return EventSourceResponse(sse(), headers=headers)
