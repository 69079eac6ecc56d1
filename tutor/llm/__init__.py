"""Chat-model backends behind one LangChain ``BaseChatModel`` interface.

``make_chat_model("local" | "openai" | "fake", ...)``: the tutor's own GPT (or any HF causal-LM
directory), any OpenAI-compatible server, or scripted replies for tests. Heavy imports (torch,
transformers, openai) happen only when a backend is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tutor.errors import BadInput, Unavailable

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

BACKENDS = ("local", "openai", "fake")
DEFAULT_MODEL_ID = "tutor-gpt"


def default_model_dir() -> Path:
    from tutor.config import REPO_ROOT

    return REPO_ROOT / "models" / DEFAULT_MODEL_ID


def make_chat_model(
    backend: str,
    model_dir: str | Path | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    device: str = "auto",
    max_new_tokens: int = 160,
    **kwargs: Any,
) -> BaseChatModel:
    """Build the chat model a setting names. The local model loads lazily, on first use."""
    if backend == "local":
        from tutor.llm.local import LocalChatModel

        path = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (path / "config.json").exists():
            raise Unavailable(
                f"no chat model at {path} (expected a Hugging Face model directory with config.json); "
                "run `tutor model build` to train the default one, or set TUTOR_LLM_MODEL_DIR"
            )
        return LocalChatModel(model_dir=str(path), device=device, max_new_tokens=max_new_tokens, **kwargs)
    if backend == "openai":
        from tutor.llm.openai_compat import make_openai_chat

        if not base_url:
            raise BadInput(
                "backend 'openai' needs a server URL: set TUTOR_LLM_BASE_URL (e.g. http://localhost:8000/v1)"
            )
        try:
            return make_openai_chat(
                base_url, model or DEFAULT_MODEL_ID, api_key, max_new_tokens=max_new_tokens, **kwargs
            )
        except ValueError as e:
            raise BadInput(str(e)) from None
    if backend == "fake":
        from tutor.llm.fake import make_fake_chat

        return make_fake_chat(**kwargs)
    raise BadInput(f"unknown chat backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def supports_tools(llm: Any) -> bool:
    """Whether the agent should use native tool calling with this model (else the structured paths)."""
    try:
        llm.bind_tools([])
    except NotImplementedError:
        return False
    except Exception:  # noqa: BLE001 - a backend that cannot even bind an empty list cannot call tools
        return False
    return True


def model_label(llm: Any) -> str:
    """A short name of the model behind a chat model, for plans and replies ("which model wrote it")."""
    for attr in ("model_name", "model"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__
