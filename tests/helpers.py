"""What several test files share: paths, sample questions, the ``maint`` command in a
subprocess, a workspace on real stores, the API under uvicorn, the reader of docs/graph.md,
and ``FakeEmbedder``, the named stand-in for the embedding model in the unit lane.

Test files import from here, never from each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from graph.base import GraphStore
from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres
from infra.services import open_graph, open_pgstore
from ingestion.pipeline import Ingestor, IngestSummary
from maint.embed import Embedder
from maint.settings import Settings
from retrieval.pgstore import PgStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples" / "manuals"
EXPECTED = ROOT / "data" / "samples" / "expected"
# The two real manuals among the samples (data/samples/README.md): their hand-checked facts
# are the real-manual set's, in data/real-manuals/expected/ (one list per manual, one format).
REAL_EXPECTED = ROOT / "data" / "real-manuals" / "expected"
GEARBOX = SAMPLES / "cg-90-conveyor-gearbox.md"
TORQUE_Q = "What torque does the impeller nut on a P-200 with lock washer WP-2207-A get?"
MESSAGES = [  # a chat for the generator tests
    {"role": "system", "content": "You are a maintenance assistant. Answer briefly."},
    {"role": "user", "content": "How often should a hydraulic filter be replaced?"},
]
KEY = "test-key-7f3a"  # the API key of the API tests
AUTH = {"Authorization": f"Bearer {KEY}"}


def expected(name: str) -> dict:
    """What the author of a sample manual listed by hand (data/samples/expected/)."""
    return json.loads((EXPECTED / f"{name}.json").read_text())


def authored_samples() -> list[str]:
    """The sample manuals written for maint, each with its author's list in
    data/samples/expected/ (read by ``expected``)."""
    return sorted(p.name for p in SAMPLES.iterdir() if (EXPECTED / f"{p.name}.json").is_file())


def real_samples() -> list[str]:
    """The real manuals among the samples ('MWO-9-2320-387-20-1', no suffix), each with its
    hand-checked list in data/real-manuals/expected/."""
    return sorted(p.stem for p in SAMPLES.iterdir() if (REAL_EXPECTED / f"{p.stem}.json").is_file())


# -- a fake embedder ------------------------------------------------------------------------------
class FakeEmbedder:
    """FAKE embedder (named as such), in the spirit of simonw/llm's ``MockModel``: a token is
    a whitespace-separated word, and a text's vector is its hashed bag of words, unit length.
    Deterministic and instant: for tests of what only counts tokens (the chunker) or needs
    some vector, not the model's meaning."""

    def __init__(self, dim: int = 384):
        self.dim = dim

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                vectors[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


# -- the maint command ------------------------------------------------------------------------
def maint(
    *args: str, data_dir, env: dict[str, str] | None = None, timeout: float = 300, **kw
) -> subprocess.CompletedProcess:
    """``maint ARGS`` in a subprocess on the workspace ``data_dir`` (``env``: more variables)."""
    return subprocess.run(
        [sys.executable, "-m", "maint.cli", *args],
        env={**os.environ, "MAINT_DATA_DIR": str(data_dir), **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


def maint_offline(*args: str, data_dir: Path, models: Path) -> subprocess.CompletedProcess:
    """``maint`` with no OpenAI key in sight: the evaluation must never need one."""
    env = {"MAINT_MODEL_CACHE_DIR": str(models), "OPENAI_API_KEY": ""}
    return maint(*args, data_dir=data_dir, env=env, timeout=900)


# -- a workspace on the real stores -----------------------------------------------------------
@dataclass
class Workspace:
    settings: Settings
    pg: PgStore
    graph: GraphStore
    embedder: Embedder

    def ingestor(self) -> Ingestor:
        return Ingestor(self.settings, self.pg, self.graph, self.embedder)

    def ingest(self, *paths: Path) -> IngestSummary:
        return self.ingestor().ingest(list(paths))

    def wipe(self) -> None:
        self.pg.conn.execute("DELETE FROM documents")
        self.graph.run("MATCH (n) DETACH DELETE n")

    def state(self) -> dict:
        """Everything a reader could see, for before/after comparisons."""
        docs = sorted((d.id, d.sha256, d.chunks) for d in self.pg.list_documents())
        return {
            "pg": self.pg.counts(),
            "docs": docs,
            "pending": len(self.pg.pending_documents()),
            "graph": self.graph.stats(),
            "graph_docs": sorted(self.graph.document_ids()),
        }


def workspace(path: Path, embedder: Embedder, model_cache: Path) -> Iterator[Workspace]:
    """A workspace of its own (embedded servers under ``path``), removed afterwards."""
    settings = Settings(data_dir=path, model_cache_dir=model_cache)
    pg = open_pgstore(settings)
    graph = open_graph(settings)
    try:
        yield Workspace(settings, pg, graph, embedder)
    finally:
        graph.close()
        pg.close()
        EmbeddedFalkorDB(path).stop()
        EmbeddedPostgres(path).stop()
        shutil.rmtree(path, ignore_errors=True)


# What other libraries print on their own: tqdm bars, Python warnings, logging's default
# format (uvicorn's too), file paths into site-packages, hints to fetch from the Hub.
THIRD_PARTY_NOISE = re.compile(
    r"\d+%\||\w+Warning: |^(DEBUG|INFO|WARNING|ERROR|CRITICAL):"
    r"|site-packages|hugging ?face|kernels",
    re.IGNORECASE | re.MULTILINE,
)


def assert_only_maint_wrote(stderr: str) -> None:
    noise = [line for line in stderr.splitlines() if THIRD_PARTY_NOISE.search(line)]
    assert not noise, "\n".join(noise)


def assert_consistent(ws: Workspace) -> None:
    """What readers see agrees across the two stores."""
    complete = ws.pg.complete_ids()
    assert ws.graph.document_ids() <= complete | {d.id for d in ws.pg.pending_documents()}
    chunk_rows = ws.graph.run("MATCH (c:Chunk) RETURN c.document_id AS d, count(*) AS n")
    graph_chunks = {r["d"]: r["n"] for r in chunk_rows}
    for doc in ws.pg.list_documents():
        assert graph_chunks.get(doc.id) == doc.chunks, doc.id


def docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
        return None
    except Exception as exc:  # no engine, no socket, no permission
        return f"no Docker engine for testcontainers ({type(exc).__name__}); Neo4j runs skipped"


# -- the HTTP API ------------------------------------------------------------------------------
@contextmanager
def running(app) -> Iterator[str]:
    """The app under a real uvicorn on a free loopback port, in a thread; yields its URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600  # start-up loads the stores and the model
    while not server.started:
        assert thread.is_alive(), "the server failed to start (see the log above)"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def with_(settings: Settings, **update) -> Settings:
    return settings.model_copy(update=update)


# -- docs/graph.md ----------------------------------------------------------------------------
# Query convention (see the page): each query is a fenced ``cypher`` block under a heading; a
# first comment line ``// :params {part: 'WP2207A'}`` gives example parameters in Neo4j
# Browser's ``:params`` syntax (a map literal that YAML reads too), and a comment line
# ``// neo4j-only: REASON`` marks a query FalkorDB cannot run.
GRAPH_MD = ROOT / "docs" / "graph.md"
_PARAMS = re.compile(r"^//\s*:params\s+(\{.*\})\s*$")
_NEO4J_ONLY = re.compile(r"^//\s*neo4j-only:\s*(.+)$")
_TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class DocQuery:
    title: str
    text: str  # the block as a reader pastes it, comments included
    params: dict[str, Any] = field(default_factory=dict)
    neo4j_only: str | None = None  # why FalkorDB cannot run it

    @property
    def statement(self) -> str:
        """The block without its trailing ';' (Browser splits statements on it; a driver
        sends one statement)."""
        return self.text.strip().rstrip(";").rstrip()


def doc_queries(path: Path = GRAPH_MD) -> list[DocQuery]:
    """Every ```cypher block of the page, with the heading above it and its parameters."""
    queries: list[DocQuery] = []
    heading = ""
    block: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if block is not None:
            if line.strip() == "```":
                queries.append(_query(heading, block))
                block = None
            else:
                block.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.strip() == "```cypher":
            block = []
    if block is not None:
        raise ValueError(f"{path}: unterminated ```cypher block under {heading!r}")
    return queries


def _query(heading: str, lines: list[str]) -> DocQuery:
    params: dict[str, Any] = {}
    neo4j_only = None
    for line in lines:
        stripped = line.strip()
        if not stripped.startswith("//"):
            break  # parameters and markers come first
        if m := _PARAMS.match(stripped):
            loaded = yaml.safe_load(m.group(1))
            if not isinstance(loaded, dict):
                raise ValueError(f"{heading!r}: ':params' is not a map: {m.group(1)}")
            params = loaded
        elif m := _NEO4J_ONLY.match(stripped):
            neo4j_only = m.group(1).strip()
    return DocQuery(heading, "\n".join(lines), params, neo4j_only)


def _section(title: str, path: Path = GRAPH_MD) -> list[str]:
    """The lines under one heading, up to the next heading."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip("#").strip() == title)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1 : end]


def _table_rows(title: str) -> list[list[str]]:
    """Cells of the table under a heading, header and separator left out."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in _section(title)
        if line.strip().startswith("|")
    ]
    return rows[2:]


def documented_nodes() -> dict[str, set[str]]:
    """label -> its documented properties (the key included), from the Nodes table."""
    nodes: dict[str, set[str]] = {}
    for label_cell, key_cell, props_cell, _scope in _table_rows("Nodes"):
        (label,) = _TICKED.findall(label_cell)
        key = _TICKED.findall(key_cell)[0]
        props = {p for p in _TICKED.findall(props_cell) if re.fullmatch(r"[a-z_][a-z0-9_]*", p)}
        nodes[label] = {key, *props}
    return nodes


def documented_relations() -> tuple[set[tuple[str, str, str]], dict[str, set[str]]]:
    """(from, type, to) triples and type -> properties, from the Relations table."""
    triples: set[tuple[str, str, str]] = set()
    props: dict[str, set[str]] = {}
    for type_cell, from_cell, to_cell, props_cell in _table_rows("Relations"):
        (rel,) = _TICKED.findall(type_cell)
        triples |= {
            (src, rel, dst)
            for src in _TICKED.findall(from_cell)
            for dst in _TICKED.findall(to_cell)
        }
        props[rel] = set(_TICKED.findall(props_cell))
    return triples, props


QUERIES = doc_queries()
