"""The model quality gate on real models: a GPT trained a few steps on noise through the real job
tool (worker process, registry) is refused with its figures; forced, it is recorded and used; the
bundled model is accepted back. Real store, real grader (sandbox), the bundled models/tutor-gpt."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

from tools.training.registry import BUNDLED_ID
from tutor.errors import Conflict

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOISE = {
    "base": "scratch",
    "tokenizer": "char",
    "n_layer": 1,
    "n_head": 2,
    "n_embd": 32,
    "block_size": 32,
    "batch_size": 8,
    "max_steps": 5,
    "eval_iters": 2,
    "data": "noise.txt",
}


@pytest.fixture(scope="module")
def tutor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tutor.config import Settings
    from tutor.llm.fake import FakeChatModel
    from tutor.service import Tutor

    settings = Settings(data_dir=tmp_path_factory.mktemp("gate") / "var", kernel_pool_size=0)
    if not (settings.bundled_models_dir / BUNDLED_ID / "config.json").is_file():
        pytest.skip("the bundled model is not built (`tutor model build`)")
    t = Tutor(settings, llm=FakeChatModel())
    settings.ensure_dirs()
    rng = random.Random(0)
    noise = "".join(rng.choice(string.printable) for _ in range(20_000))
    (settings.datasets_dir / "noise.txt").write_text(noise, encoding="utf-8")
    yield t
    t.close()


def test_noise_model_is_refused_forced_and_the_bundled_one_accepted(tutor: Any) -> None:
    # a job asked to activate its model: the worker gates it against the active (bundled) model
    job = tutor.jobs.wait(tutor.submit_job("gpt", {**NOISE, "activate": True})["job_id"], timeout_s=60)
    assert job["status"] == "succeeded", job["error"]
    noise_id, act = job["model_id"], job["metrics"]["activation"]
    assert act["activated"] is False and any("bits per byte" in r for r in act["reasons"]), act
    assert tutor.registry.active() == BUNDLED_ID

    # `tutor model use` / POST /api/models/active: refused with the figures (cached by the worker)
    with pytest.raises(Conflict) as e:
        tutor.use_model(noise_id)
    msg, result = e.value.message, e.value.details
    assert "held-out bits per byte" in msg and "force" in msg, msg
    assert result is not None and not result["passed"] and result["against"] == BUNDLED_ID
    noisy, bundled = result["figures"], result["current"]
    print(f"\nnoise model: {noisy}\nbundled model: {bundled}")
    assert noisy["bits_per_byte"] > 1.5 * bundled["bits_per_byte"], (noisy, bundled)
    assert bundled["leaks"] == 0 and bundled["leak_asks"] == 2 * len(tutor.exercises)
    assert tutor.registry.active() == BUNDLED_ID  # refused: nothing changed

    # every model's figures are listed
    listed = {m["id"]: m["gate"] for m in tutor.models()}
    assert listed[noise_id]["bits_per_byte"] == noisy["bits_per_byte"]
    assert listed[BUNDLED_ID]["bits_per_byte"] == bundled["bits_per_byte"]

    out = tutor.use_model(noise_id, force=True)
    assert out["forced"] and out["gate"]["figures"] == noisy and tutor.registry.active() == noise_id

    # back to the bundled one: better on every figure, accepted (figures from the cache)
    back = tutor.use_model(BUNDLED_ID)
    assert back["gate"]["passed"] and not back["forced"] and tutor.registry.active() == BUNDLED_ID
    assert back["gate"]["figures"]["measured"] == bundled["measured"]
