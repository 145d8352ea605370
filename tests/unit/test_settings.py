from pathlib import Path

import pytest

from maint.settings import Settings


def test_defaults_are_embedded(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("MAINT_DATABASE_URL", "MAINT_GRAPH_URI", "MAINT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.embedded_postgres and s.embedded_graph
    assert s.graph_backend == "falkordb"


@pytest.mark.parametrize(
    ("uri", "backend"),
    [
        ("bolt://db:7687", "neo4j"),
        ("neo4j+s://x.databases.neo4j.io", "neo4j"),
        ("falkordb://host:6379", "falkordb"),
        ("redis://host:6379", "falkordb"),
    ],
)
def test_graph_backend_from_uri(monkeypatch, uri, backend):
    monkeypatch.setenv("MAINT_GRAPH_URI", uri)
    assert Settings().graph_backend == backend


def test_unknown_graph_scheme_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MAINT_GRAPH_URI", "http://x")
    with pytest.raises(ValueError, match="unknown scheme"):
        _ = Settings().graph_backend


def test_env_prefix_and_config_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("MAINT_DATA_DIR", "MAINT_CHUNK_TOKENS", "MAINT_CONFIG"):
        monkeypatch.delenv(var, raising=False)  # the file's values must be the ones read
    Path("maint.toml").write_text('data_dir = "/srv/maint"\nchunk_tokens = 123\n')
    assert Settings().chunk_tokens == 123
    monkeypatch.setenv("MAINT_CHUNK_TOKENS", "77")  # env beats the file
    s = Settings()
    assert s.chunk_tokens == 77 and s.data_dir == Path("/srv/maint")


def test_an_empty_value_in_an_env_file_means_unset(monkeypatch):
    """`MAINT_ADAPTER=` (as an env file leaves it) is no adapter, not one named ''."""
    for var in ("MAINT_ADAPTER", "MAINT_DATABASE_URL", "MAINT_JUDGE_URL", "MAINT_OPENAI_API_KEY"):
        monkeypatch.setenv(var, " ")
    s = Settings()
    assert s.adapter is None and s.database_url is None and s.embedded_postgres
    assert s.judge_url is None and s.openai_api_key is None


def test_embedding_backend_is_checked(monkeypatch):
    monkeypatch.setenv("MAINT_EMBEDDING_BACKEND", "torch")
    assert Settings().embedding_backend == "torch"
    monkeypatch.setenv("MAINT_EMBEDDING_BACKEND", "onnx-fp16")
    with pytest.raises(ValueError, match=r"'onnx-fp16'.*onnx, onnx-int8, torch"):
        Settings()
