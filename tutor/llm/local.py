"""LangChain chat model over any Hugging Face causal-LM directory (ours, GPT-2, Qwen, Llama...).

Generation is a plain token loop with a KV cache rather than ``model.generate`` in a thread:
it streams without a helper thread, stops the moment the consumer stops iterating (closing the
generator ends the loop: that is the cancellation path when an HTTP client goes away), and takes
a ``logits_processor`` so ``tasks.gpt_plan`` can constrain decoding.

The model is shared by concurrent requests without a lock: inference does not mutate it and each
call has its own KV cache.

Prompts: when the tokenizer has a ``chat_template`` (ours, Qwen, Llama...) it is used; otherwise
a plain "User:/Assistant:" transcript. Models are loaded once per (dir, device, dtype) and shared.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

logger = logging.getLogger(__name__)

# end-of-turn markers of common chat models, ours first; any that is a token of the vocabulary stops
END_MARKERS = ("<|end|>", "<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>")
PLAIN_STOP = ("\nUser:", "\nSystem:")
LogitsProcessor = Callable[[Any, Any], Any]


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    dtype: str
    stop_ids: set[int]
    max_positions: int
    load_s: float
    name: str
    cache_arg: str  # "cache" in transformers >= 5.24, "past_key_values" before
    params: int


_CACHE: dict[tuple[str, str, str], LoadedModel] = {}
_CACHE_LOCK = threading.Lock()


def _resolve_device(device: str, dtype: str) -> tuple[str, Any]:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        if device.startswith("cuda"):
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float32
    return device, {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]


def load_local_model(model_dir: str | Path, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load (once per process) a causal LM and its tokenizer from a model directory."""
    path = Path(model_dir).expanduser().resolve()
    key = (str(path), device, dtype)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"no model in {path}: expected a Hugging Face model directory with config.json; "
                "build the default one with `tutor model build` or point TUTOR_LLM_MODEL_DIR at one"
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would litter the server's stderr

        t0 = time.perf_counter()
        dev, torch_dtype = _resolve_device(device, dtype)
        tok = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
        model = model.to(dev).eval()  # type: ignore[arg-type]
        stop: set[int] = set()
        gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        for i in [tok.eos_token_id, *(gen_eos if isinstance(gen_eos, list) else [gen_eos])]:
            if i is not None:
                stop.add(int(i))
        vocab = tok.get_vocab()
        stop |= {vocab[m] for m in END_MARKERS if m in vocab}
        cfg = model.config
        max_pos = getattr(cfg, "n_positions", None) or getattr(cfg, "max_position_embeddings", None) or 4096
        cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        loaded = LoadedModel(
            model,
            tok,
            dev,
            str(torch_dtype).removeprefix("torch."),
            stop,
            int(max_pos),
            time.perf_counter() - t0,
            path.name,
            cache_arg,
            sum(p.numel() for p in model.parameters()),
        )
        logger.info("loaded %s on %s (%s) in %.2fs", path, dev, loaded.dtype, loaded.load_s)
        _CACHE[key] = loaded
        return loaded


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    out = []
    for m in messages:
        text = m.content if isinstance(m.content, str) else m.text
        role = roles.get(m.type, "user")
        if m.type == "tool":
            text = f"tool result: {text}"
        out.append({"role": role, "content": text})
    return out


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[str, tuple[str, ...]]:
    """Prompt text and the extra stop strings its format needs."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False), ()
    names = {"system": "System", "user": "User", "assistant": "Assistant"}
    text = "".join(f"{names.get(m['role'], 'User')}: {m['content']}\n" for m in messages) + "Assistant:"
    return text, PLAIN_STOP


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing chars might be the start of a stop string (not yet safe to emit)."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return hold


def generate_pieces(
    loaded: LoadedModel,
    prompt: str,
    *,
    max_new_tokens: int,
    stop: Sequence[str] = (),
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    logits_processor: LogitsProcessor | None = None,
    usage: dict[str, int] | None = None,
    num_threads: int | None = None,
) -> Iterator[str]:
    """Yield the reply text piece by piece; stops at an end token, a stop string or the cap."""
    with torch_threads(num_threads):  # exits also when the consumer stops iterating (generator closed)
        yield from _pieces(
            loaded, prompt, max_new_tokens, stop, temperature, top_p, seed, logits_processor, usage
        )


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch threads (None: unchanged), then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _pieces(
    loaded: LoadedModel,
    prompt: str,
    max_new_tokens: int,
    stop: Sequence[str],
    temperature: float,
    top_p: float,
    seed: int,
    logits_processor: LogitsProcessor | None,
    usage: dict[str, int] | None,
) -> Iterator[str]:
    import torch

    tok, model = loaded.tokenizer, loaded.model
    backend = getattr(tok, "backend_tokenizer", None)  # direct: no "longer than the model" warning
    ids = (
        backend.encode(prompt, add_special_tokens=False).ids
        if backend
        else tok(prompt, add_special_tokens=False)["input_ids"]
    )
    room = loaded.max_positions - max_new_tokens
    if room < 16:  # a short-context model: keep at least some prompt, generate what fits
        room = max(loaded.max_positions // 2, 1)
    if len(ids) > room:  # keep the end of the prompt: the question and the generation prompt are there
        ids = ids[-room:]
    budget = min(max_new_tokens, loaded.max_positions - len(ids))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    out: list[int] = []
    emitted = 0
    if usage is not None:
        usage.update(input_tokens=len(ids), output_tokens=0)
    all_ids = torch.tensor([ids], device=loaded.device)
    step_ids, past = all_ids, None
    for _ in range(budget):
        # inference mode only around the model call: this generator yields to its consumer in
        # between, and the consumer's code must not run inside inference mode
        with torch.inference_mode():
            res = model(input_ids=step_ids, use_cache=True, **{loaded.cache_arg: past})
            past = res.get(loaded.cache_arg)
            logits = res.logits[:, -1, :].float()
            if logits_processor is not None:
                logits = logits_processor(all_ids, logits)
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                if top_p < 1.0:
                    sp, si = torch.sort(probs, descending=True)
                    sp[(sp.cumsum(-1) - sp) > top_p] = 0
                    probs = torch.zeros_like(probs).scatter_(-1, si, sp)
                nxt = int(torch.multinomial(probs.cpu(), 1, generator=gen))
            else:
                nxt = int(logits.argmax(-1))
        if nxt in loaded.stop_ids:
            break
        out.append(nxt)
        if usage is not None:
            usage["output_tokens"] = len(out)
        step_ids = torch.tensor([[nxt]], device=loaded.device)
        all_ids = torch.cat([all_ids, step_ids], dim=1)
        text = tok.decode(out, skip_special_tokens=True)
        hits = [i for i in (text.find(s, max(0, emitted - len(s))) for s in stop) if i >= 0]
        if hits:
            cut = min(hits)
            if cut > emitted:
                yield text[emitted:cut]
            return
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            continue
        safe = len(text) - _held_back(text, stop)
        if safe > emitted:
            yield text[emitted:safe]
            emitted = safe
    text = tok.decode(out, skip_special_tokens=True)
    if len(text) > emitted:
        yield text[emitted:]


class LocalChatModel(BaseChatModel):
    """Chat model over a local HF causal-LM directory (CPU or CUDA; bf16/fp16 on GPUs)."""

    model_dir: str
    device: str = "auto"
    dtype: str = "auto"
    max_new_tokens: int = 160
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    # None: 1 thread for small models on CPU. Decoding a small model is a chain of tiny matmuls
    # that extra threads do not speed up, and on a busy 2-core machine OpenMP threads spinning
    # for a taken core made decoding ~20x slower (measured: 25 vs 400+ tokens/s).
    num_threads: int | None = None

    @property
    def _llm_type(self) -> str:
        return "local-hf"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_dir": self.model_dir, "device": self.device, "max_new_tokens": self.max_new_tokens}

    @property
    def loaded(self) -> LoadedModel:
        return load_local_model(self.model_dir, self.device, self.dtype)

    @property
    def model_name(self) -> str:
        return Path(self.model_dir).name

    def _pieces(
        self, messages: list[BaseMessage], stop: list[str] | None, usage: dict[str, int], **kwargs: Any
    ) -> Iterator[str]:
        loaded = self.loaded
        prompt, extra_stop = render_prompt(loaded.tokenizer, to_chat_dicts(messages))
        return generate_pieces(
            loaded,
            prompt,
            max_new_tokens=int(kwargs.get("max_new_tokens", self.max_new_tokens)),
            stop=[*(stop or []), *extra_stop],
            temperature=float(kwargs.get("temperature", self.temperature)),
            top_p=float(kwargs.get("top_p", self.top_p)),
            seed=int(kwargs.get("seed", self.seed)),
            logits_processor=kwargs.get("logits_processor"),
            usage=usage,
            num_threads=self.num_threads
            or (1 if loaded.device == "cpu" and loaded.params < 50_000_000 else None),
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        usage: dict[str, int] = {}
        text = "".join(self._pieces(messages, stop, usage, **kwargs))
        meta = {**usage, "total_tokens": usage.get("input_tokens", 0) + usage.get("output_tokens", 0)}
        msg = AIMessage(content=text, usage_metadata=meta, response_metadata={"model_name": self.model_name})  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        usage: dict[str, int] = {}
        for piece in self._pieces(messages, stop, usage, **kwargs):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
