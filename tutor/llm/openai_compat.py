"""Chat model for any OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI itself).

langchain-openai's ``ChatOpenAI`` pointed at ``base_url``: streaming, stop sequences and tool
calling come with it, so a capable served model makes the agent use tools with no code change.
"""

from __future__ import annotations

from typing import Any


def make_openai_chat(
    base_url: str,
    model: str,
    api_key: str | None = None,
    *,
    max_new_tokens: int = 160,
    temperature: float = 0.0,
    timeout_s: float = 60.0,
    max_retries: int = 1,
) -> Any:
    from langchain_openai import ChatOpenAI

    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"OpenAI-compatible base URL must start with http:// or https://, got {base_url!r}")
    from pydantic import SecretStr

    return ChatOpenAI(  # type: ignore[call-arg]
        base_url=base_url,
        model=model,
        api_key=SecretStr(api_key or "not-needed"),  # local servers ignore it, the client insists on one
        max_tokens=max_new_tokens,
        temperature=temperature,
        timeout=timeout_s,
        max_retries=max_retries,
        stream_usage=True,
    )
