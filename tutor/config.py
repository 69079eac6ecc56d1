"""Settings: the only place that reads environment variables (prefix ``TUTOR_``).

Lower layers (tools, knowledge, curriculum) take plain arguments; the service passes them values
from here. Every field is listed in the README's configuration table.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Settings(BaseSettings):
    """Validated configuration of one tutor process."""

    model_config = SettingsConfigDict(env_prefix="TUTOR_", extra="ignore")

    # where everything a running tutor writes lives (docs/architecture.md, "Runtime state")
    data_dir: Path = Field(default=REPO_ROOT / "var", description="Data directory for all runtime state.")
    host: str = Field(default="127.0.0.1", description="Interface `tutor serve` binds to.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port `tutor serve` binds to.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_json: bool = Field(default=False, description="Log one JSON object per line (for log shippers).")

    # auth: "KEY:learner_id", "KEY:teacher" (reads every learner, changes nothing) or "KEY:admin"
    api_keys: str = Field(
        default="",
        description="API keys, `KEY:learner_id`, `KEY:teacher` or `KEY:admin`, comma-separated.",
    )

    # storage
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite in the data dir."
    )
    chroma_url: str | None = Field(default=None, description="Chroma server URL; default embedded Chroma.")
    notes_dir: Path = Field(default=REPO_ROOT / "knowledge" / "notes", description="Course notes to index.")
    cards_dir: Path = Field(
        default=REPO_ROOT / "knowledge" / "cards",
        description="Teaching cards to index (one YAML file per topic).",
    )

    # chat model
    llm_backend: Literal["local", "openai", "fake"] = Field(default="local", description="Chat backend.")
    llm_model_dir: Path | None = Field(
        default=None, description="HF causal-LM directory; default the active model."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server URL (backend openai)."
    )
    llm_model: str = Field(
        default="tutor-gpt", description="Model name sent to the OpenAI-compatible server."
    )
    llm_api_key: str = Field(default="not-needed", description="API key for the OpenAI-compatible server.")
    llm_device: str = Field(default="auto", description="`cpu`, `cuda` or `auto` for the local backend.")
    llm_max_new_tokens: int = Field(
        default=160, ge=1, le=4096, description="Cap on generated tokens per reply."
    )

    # code execution
    unsafe_no_sandbox: bool = Field(
        default=False, description="Run learner code unconfined (never in production)."
    )
    run_timeout_s: float = Field(default=10.0, gt=0, description="Default wall-clock limit per execution.")
    max_run_timeout_s: float = Field(
        default=60.0, gt=0, description="Largest `timeout_s` a caller may ask for."
    )
    kernel_memory_mb: int = Field(default=2048, ge=256, description="Address-space limit of a kernel (MiB).")
    output_limit_bytes: int = Field(default=1_000_000, ge=1_000, description="Output cap per execution.")
    kernel_pool_size: int = Field(default=2, ge=0, description="Pre-started kernels kept warm.")
    kernel_idle_s: float = Field(
        default=900.0, gt=0, description="Idle session kernels are culled after this."
    )
    max_busy_kernels: int | None = Field(
        default=None, description="Concurrent executions; default one per core."
    )

    # training jobs
    jobs_backend: Literal["local", "ray"] = Field(default="local", description="Where training jobs run.")
    ray_address: str | None = Field(default=None, description="Ray cluster address (jobs backend ray).")
    max_concurrent_jobs: int = Field(
        default=1, ge=1, description="Training jobs running at once; rest queue."
    )
    job_standby: bool = Field(
        default=True,
        description="Keep one training worker started with its imports done (local backend).",
    )

    # learning records (xAPI statements to a learning record store; tutor/usecases/xapi.py)
    xapi_url: str | None = Field(
        default=None, description="xAPI base URL of a learning record store; unset: no statements."
    )
    xapi_username: str = Field(default="", description="HTTP basic-auth user for the LRS.")
    xapi_password: str = Field(default="", description="HTTP basic-auth password for the LRS.")
    xapi_activity_base: str = Field(
        default="https://gpt-tutor.invalid/xapi",
        description="Base IRI of activity ids and learner accounts in xAPI statements.",
    )

    # request limits
    max_message_chars: int = Field(default=8_000, ge=1, description="Longest chat message accepted.")
    max_code_chars: int = Field(default=100_000, ge=1, description="Longest code submission accepted.")
    max_body_bytes: int = Field(
        default=1_000_000, ge=1_000, description="Largest HTTP request body accepted."
    )
    max_material_bytes: int = Field(
        default=10_000_000, ge=1_000, description="Largest course-material file a teacher may add."
    )

    @field_validator("data_dir", "notes_dir", "cards_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    # --- derived paths (docs/architecture.md, "Runtime state") ---
    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'tutor.db'}"

    @property
    def is_postgres(self) -> bool:
        return self.db_url.startswith(("postgres://", "postgresql://", "postgresql+"))

    @property
    def checkpoints_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def kernels_dir(self) -> Path:
        return self.data_dir / "kernels"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def datasets_dir(self) -> Path:
        """Text files that training jobs submitted over HTTP may use as data."""
        return self.data_dir / "datasets"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def bundled_models_dir(self) -> Path:
        return REPO_ROOT / "models"

    @cached_property
    def api_key_map(self) -> dict[str, str]:
        """KEY -> learner id (or "teacher" / "admin"). Malformed pairs fail at start, not at the
        first request."""
        keys: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.api_keys.split(","))):
            key, sep, who = pair.partition(":")
            if not sep or not key or not who:
                raise ValueError(
                    f"TUTOR_API_KEYS entry {pair!r} is not KEY:learner_id, KEY:teacher or KEY:admin"
                )
            keys[key] = who
        return keys

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.kernels_dir, self.runs_dir, self.models_dir, self.datasets_dir):
            d.mkdir(parents=True, exist_ok=True)
