"""One settings object for the whole project.

Read from environment variables prefixed ``MAINT_`` and, optionally, a ``maint.toml`` (or the
file named by ``MAINT_CONFIG``). With nothing configured, everything runs on the embedded
default: a local PostgreSQL+pgvector and a local FalkorDB under ``data_dir``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

GraphBackend = Literal["falkordb", "neo4j"]


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
    embedding_dim: int = 384
    embedding_batch_size: int = 64
    embedding_device: str = "cpu"

    chunk_tokens: int = Field(default=200, description="Target chunk size in embedder tokens.")
    chunk_overlap_tokens: int = Field(default=30, description="Overlap between prose chunks.")
    max_chunk_tokens: int = Field(
        default=600, description="Hard cap; only tables are split (at row boundaries) beyond it."
    )
    max_file_mb: float = Field(default=100.0, description="Files larger than this are refused.")

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

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
