"""One settings object for the whole project.

Read from environment variables prefixed ``MAINT_`` and, optionally, a ``maint.toml`` (or the
file named by ``MAINT_CONFIG``). With nothing configured, everything runs on the embedded
default: a local PostgreSQL+pgvector and a local FalkorDB under ``data_dir``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

GraphBackend = Literal["falkordb", "neo4j"]
EMBEDDING_BACKENDS = ("onnx", "onnx-int8", "torch")


def _config_file() -> Path | None:
    explicit = os.environ.get("MAINT_CONFIG")
    if explicit:
        return Path(explicit)
    for name in ("maint.toml", "maint.yaml", "maint.yml"):
        if Path(name).is_file():
            return Path(name)
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAINT_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("maint")),
        description="Where the embedded stores, caches and adapters live. "
        "Two data dirs are two independent workspaces.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (with pgvector). Unset: the embedded server under data_dir.",
    )
    graph_uri: str | None = Field(
        default=None,
        description="bolt:// or neo4j:// for Neo4j 5; falkordb:// or redis:// for an external "
        "FalkorDB. Unset: the embedded FalkorDB under data_dir.",
    )
    graph_user: str = "neo4j"
    graph_password: str | None = None
    graph_name: str = Field(default="maint", description="Graph (FalkorDB) or database (Neo4j).")

    embedding_model: str | None = Field(
        default=None,
        description="Local sentence-transformers model path. Unset: the bundled all-MiniLM-L6-v2.",
    )
    embedding_backend: str = Field(
        default="onnx",
        description="How chunks and questions are embedded on CPU: onnx (the model exported "
        "once to ONNX under models_dir, fp32: torch's vectors, cosine 0.99999, in half the "
        "time), onnx-int8 (int8 weights: 1.45x faster again, cosine >= 0.99, but fused "
        "recall@5 fell 1.5 points on the real manuals, 2.7 on the dev set) or torch "
        "(sentence-transformers fp32). With embedding_device other than cpu, torch is used.",
    )
    embedding_dim: int = 384
    embedding_batch_size: int = 64
    embedding_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,  # each session holds the model's weights (about 90 MB in fp32)
        description="ONNX sessions of one thread each embedding a file's texts side by side. "
        "Unset: one per CPU core (up to 8).",
    )
    embedding_device: str = "cpu"

    chunk_tokens: int = Field(default=200, description="Target chunk size in embedder tokens.")
    chunk_overlap_tokens: int = Field(default=30, description="Overlap between prose chunks.")
    max_chunk_tokens: int = Field(
        default=600, description="Hard cap; only tables are split (at row boundaries) beyond it."
    )
    max_file_mb: float = Field(default=100.0, description="Files larger than this are refused.")
    parse_workers: int | None = Field(
        default=None,
        ge=0,
        description="Processes parsing the next files of a batch while one is embedded and "
        "stored. Unset: one fewer than the CPU cores (1 to 4); 0: parse in the ingesting process.",
    )

    # -- retrieval ------------------------------------------------------------------------
    retrieve_candidates: int = Field(
        default=20, description="Chunks each retriever returns before fusion."
    )
    context_chunks: int = Field(default=5, description="Most chunks given to the generator.")
    context_tokens: int = Field(
        default=1200, description="Token budget of the context (chunks + graph facts)."
    )
    rrf_k: int = Field(default=60, description="Reciprocal rank fusion constant.")
    weight_vector: float = Field(default=1.0, description="Fusion weight of vector search.")
    weight_keyword: float = Field(default=1.0, description="Fusion weight of keyword search.")
    weight_units: float = Field(
        default=1.0,
        description="Fusion weight of each search over units (table rows, sentences, warnings).",
    )
    weight_graph: float = Field(default=1.0, description="Fusion weight of graph lookups.")
    hnsw_ef_search: int = Field(
        default=40, description="pgvector hnsw.ef_search: higher = better recall, slower."
    )
    min_relevance: float = Field(
        default=0.35,
        description="Below this best cosine similarity (and no asked-for part number in the "
        "context) the answer is 'not in the documentation'. Calibrated on the dev set: "
        "answerable questions scored 0.386 and up, off-topic ones 0.316 and below.",
    )

    # -- evidence-first answers (hybrid mode) ----------------------------------------------
    answer_depth: int = Field(
        default=8,
        description="Hybrid answers select quoted lines from the units of this many of the "
        "best fused chunks.",
    )
    answer_units: int = Field(
        default=3, description="Most lines (rows, sentences, warnings) a hybrid answer quotes."
    )
    answer_lead_in: bool = Field(
        default=False,
        description="Let the model write a one-sentence lead-in above the quoted lines; it can "
        "only write numbers that stand in those lines (enforced while decoding). Off by "
        "default: it costs seconds on a CPU and the bundled 135M model's lead-ins rarely pass "
        "the draft filter (docs/answers.md).",
    )

    # -- generation -----------------------------------------------------------------------
    generator: Literal["local", "openai"] = Field(
        default="local",
        description="local: a Hugging Face causal LM in-process; openai: any OpenAI-compatible "
        "endpoint (vLLM, Ollama, llama.cpp server) at openai_base_url.",
    )
    model: str | None = Field(
        default=None,
        description="Local HF model path or name. Unset: the bundled SmolLM2-135M-Instruct.",
    )
    adapter: str | None = Field(
        default=None,
        description="PEFT adapter path (or name under data_dir/adapters) for ft/hybrid modes.",
    )
    openai_base_url: str | None = Field(
        default=None, description="e.g. http://localhost:8000/v1 for vLLM."
    )
    openai_api_key: str | None = None
    openai_timeout: float = Field(default=120.0, description="Seconds to wait for an answer.")
    openai_model: str | None = Field(
        default=None, description="Model name sent to the endpoint (default: its first model)."
    )
    judge_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint judging the LLM-based RAGAS metrics of "
        "`maint eval` (e.g. http://judge:8000/v1); unset: those metrics are not run.",
    )
    judge_model: str | None = Field(default=None, description="Model name sent to the judge.")
    judge_api_key: str | None = None
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where converted models are cached (DATA_DIR/models when unset); "
        "workspaces may share one.",
    )
    max_new_tokens: int = Field(default=128, description="Generation length cap.")
    temperature: float = Field(default=0.0, description="0 = greedy (deterministic).")
    seed: int = 0
    max_question_chars: int = Field(
        default=2000, description="Longer questions are cut to this length (with a note)."
    )

    # -- serving (`maint serve`) ------------------------------------------------------------
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer keys the HTTP API accepts (MAINT_API_KEYS: comma-separated). "
        "Required when `maint serve` binds to a non-loopback address; with none, the API "
        "is open and only loopback binds are allowed.",
    )
    max_queue: int = Field(
        default=8,
        ge=0,
        description="Questions that may wait while one is being answered; beyond that the "
        "API answers 503 with Retry-After instead of letting latency grow without bound.",
    )
    max_request_kb: int = Field(
        default=256, ge=1, description="Largest HTTP request body accepted (413 beyond)."
    )
    log_questions: bool = Field(
        default=False,
        description="Put the question text in the per-request JSON log line. Off: requests are "
        "logged without what was asked.",
    )
    max_upload_files: int = Field(
        default=20, ge=1, description="Most files one POST /v1/documents may carry."
    )
    max_upload_mb: float = Field(
        default=500.0,
        gt=0,
        description="Largest POST /v1/documents body (all files together); each file is also "
        "held to max_file_mb. Other requests keep max_request_kb.",
    )
    upload_extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [".pdf", ".html", ".htm", ".md", ".markdown", ".txt"],
        description="File name endings POST /v1/documents accepts (MAINT_UPLOAD_EXTENSIONS: "
        "comma-separated).",
    )

    @field_validator(
        "database_url",
        "graph_uri",
        "graph_password",
        "embedding_model",
        "model",
        "adapter",
        "openai_base_url",
        "openai_api_key",
        "openai_model",
        "judge_url",
        "judge_model",
        "judge_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``MAINT_ADAPTER=`` in an env file means no adapter, not an adapter named ''."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("embedding_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        """A typo must not silently fall back to another backend."""
        if value not in EMBEDDING_BACKENDS:
            raise ValueError(
                f"MAINT_EMBEDDING_BACKEND={value!r} is not a backend; use one of: "
                + ", ".join(EMBEDDING_BACKENDS)
            )
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_api_keys(cls, value: Any) -> Any:
        """MAINT_API_KEYS=a,b (an env var cannot hold a list); a config file may give one."""
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("upload_extensions", mode="before")
    @classmethod
    def _split_extensions(cls, value: Any) -> Any:
        """MAINT_UPLOAD_EXTENSIONS=.pdf,.md; each kept lower-case with its leading dot."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):
            found = [str(x).strip().lower() for x in value if str(x).strip()]
            return [x if x.startswith(".") else f".{x}" for x in found]
        return value

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def embedded_graph(self) -> bool:
        return self.graph_uri is None

    @property
    def graph_backend(self) -> GraphBackend:
        uri = self.graph_uri or "falkordb://embedded"
        scheme = uri.split("://", 1)[0].lower()
        if scheme.startswith(("bolt", "neo4j")):
            return "neo4j"
        if scheme in ("falkordb", "falkor", "redis", "rediss", "unix"):
            return "falkordb"
        raise ValueError(
            f"MAINT_GRAPH_URI={uri!r}: unknown scheme {scheme!r}; use bolt:// or neo4j:// for "
            "Neo4j, falkordb:// or redis:// for FalkorDB"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            if path.suffix == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            else:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
