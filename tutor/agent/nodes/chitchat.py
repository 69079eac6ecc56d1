"""Small talk: fixed replies for greetings, thanks and "what can you do", the chat model for the
rest (streamed token by token), always ending with what the learner can do next."""

from __future__ import annotations

import logging
import re
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from tutor.agent import prompts as P
from tutor.agent.nodes import Services, Update, emit_text, last_human_text

log = logging.getLogger(__name__)
MAX_CHARS = 500  # a small model can ramble; small talk stays short
_GREETING = re.compile(r"^\W*(hi|hello|hey|hiya|yo|sup|good (morning|afternoon|evening)|greetings)\b", re.I)
_THANKS = re.compile(r"\b(thanks|thank you|thx|ty|cheers)\b", re.I)
_HELP = re.compile(
    r"\b(help|what can you do|what are you|who are you|how do i use you|commands|how does this work)\b", re.I
)


def chitchat_node(svc: Services, state: dict[str, Any]) -> Update:
    text = last_human_text(state)
    if _HELP.search(text):
        return {"reply": P.CAPABILITIES}
    if _GREETING.search(text) and len(text.split()) <= 6:
        return {"reply": P.GREETING}
    if _THANKS.search(text) and len(text.split()) <= 8:
        return {"reply": P.THANKS}
    said = stream_model(svc.llm, [SystemMessage(P.CHITCHAT_SYSTEM), HumanMessage(text)])
    if not said.strip():
        return {"reply": P.FALLBACK}
    suffix = "\n\n" + P.CAPABILITIES
    emit_text(suffix)
    return {"reply": said + suffix, "_streamed": True}


def stream_model(llm: Any, messages: list[Any]) -> str:
    """The model's answer, streamed as token events while it is generated (leading blanks dropped,
    cut at ``MAX_CHARS``). An empty string when the model fails: the caller falls back."""
    out = ""
    try:
        for chunk in llm.stream(messages):
            piece = chunk.content if isinstance(chunk.content, str) else ""
            if not out:
                piece = piece.lstrip()
            piece = piece[: MAX_CHARS - len(out)]
            if piece:
                emit_text(piece)
                out += piece
            if len(out) >= MAX_CHARS:
                break
    except Exception as e:  # small talk must never fail the turn
        log.warning("chat model failed during small talk: %s", e)
        if out:
            return out
        return ""
    return out
