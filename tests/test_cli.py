"""The ``maint`` command as a user runs it (a real subprocess, real stores)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES
from tests.test_pipeline import GEARBOX, assert_consistent


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


def test_help_reads_like_docs(tmp_path):
    top = maint("--help", data_dir=tmp_path)
    assert top.returncode == 0
    for command in ("ingest", "documents", "graph", "services"):
        assert command in top.stdout
    ingest = maint("ingest", "--help", data_dir=tmp_path)
    assert "Unchanged files" in ingest.stdout and "--json" in ingest.stdout


def test_help_paragraphs_are_wrapped_by_the_terminal_not_the_docstring(tmp_path):
    """A docstring's hard line breaks used to reach the screen as ragged lines."""
    wide = maint("ingest", "--help", data_dir=tmp_path, env={"COLUMNS": "200"})
    assert "a changed file replaces its previous version in one go." in wide.stdout
    serve = maint("serve", "--help", data_dir=tmp_path, env={"COLUMNS": "200"})
    lines = [line.strip() for line in serve.stdout.splitlines()]
    curl = next(i for i, line in enumerate(lines) if line.startswith("curl -s localhost:8000"))
    assert lines[curl].endswith("\\") and lines[curl + 1].startswith("-d '{")  # examples kept


# bitsandbytes' CPU ops as loaded on a CPU with AVX512-bf16 (the kernels path), whatever CPU
# runs the test: the has_avx512bf16 probe is forced true just before that module executes.
FORCE_AVX512_BF16 = """
import importlib.abc, importlib.util, sys

class ForceAvx512Bf16(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "bitsandbytes.backends.cpu.ops":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            import bitsandbytes.functional as functional
            functional.has_avx512bf16 = lambda: True
            run(module)

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, ForceAvx512Bf16())
"""

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


def test_no_hint_to_fetch_kernels_from_the_hub():
    """On CPUs with AVX512-bf16, bitsandbytes suggests `pip install kernels` (a Hub download at
    run time), and `kernels`, offline, warns that it skips its publisher check. Neither may
    reach a technician's terminal; without maint's set-up both lines appear (checked first)."""
    code = FORCE_AVX512_BF16 + "import peft, bitsandbytes"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    bare = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert bare.returncode == 0, bare.stderr
    assert "kernels" in bare.stderr  # the path is really taken
    code = FORCE_AVX512_BF16 + "import maint, peft, bitsandbytes"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


@pytest.mark.slow
def test_ask_prints_only_its_own_lines(corpus):
    """A first `maint ask` converts and loads the model: no library's bars or warnings."""
    run = maint(
        "ask",
        "--mode",
        "rag",
        "What torque does the impeller nut on the P-200 get?",
        data_dir=corpus.settings.data_dir,
        env={"MAINT_MODEL_CACHE_DIR": str(corpus.settings.models_dir)},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip()
    assert_only_maint_wrote(run.stderr)


def test_ingest_list_show_delete_stats(scratch, tmp_path):
    data_dir = scratch.settings.data_dir
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 truncated")
    run = maint("ingest", str(GEARBOX), str(bad), "--json", data_dir=data_dir)
    assert run.returncode == 1  # some failed
    summary = json.loads(run.stdout)
    assert summary["documents"]["added"] == 1 and summary["documents"]["failed"] == 1
    assert summary["chunks"] > 0 and summary["entities"] > 0 and summary["relations"] > 0
    assert "broken.pdf" in run.stderr and "export it again" in run.stderr
    assert "EOF marker" not in run.stderr  # pypdf's own log line, with no file name
    assert_only_maint_wrote(run.stderr)

    docs = json.loads(maint("documents", "list", "--json", data_dir=data_dir).stdout)
    assert [d["format"] for d in docs] == ["markdown"]
    doc_id = docs[0]["id"]
    shown = json.loads(maint("documents", "show", doc_id[:8], "--json", data_dir=data_dir).stdout)
    assert shown["id"] == doc_id and shown["facts"]["Part"] == 22
    assert len(shown["chunk_list"]) == docs[0]["chunks"]

    stats = json.loads(maint("graph", "stats", "--json", data_dir=data_dir).stdout)
    assert stats["backend"] == "falkordb" and stats["nodes"]["Procedure"] == 5

    refused = maint("documents", "delete", doc_id, data_dir=data_dir, stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    deleted = maint("documents", "delete", doc_id, "--yes", "--json", data_dir=data_dir)
    assert json.loads(deleted.stdout)["deleted"]["id"] == doc_id
    assert json.loads(maint("documents", "list", "--json", data_dir=data_dir).stdout) == []
    missing = maint("documents", "show", "ffff", data_dir=data_dir)
    assert missing.returncode == 1 and "no document" in missing.stderr


def test_services_start_status_stop(tmp_path):
    data_dir = tmp_path / "ws"
    started = json.loads(maint("services", "start", "--json", data_dir=data_dir).stdout)
    assert [s["running"] for s in started["services"]] == [True, True]
    again = json.loads(maint("services", "status", "--json", data_dir=data_dir).stdout)
    assert [s["pid"] for s in again["services"]] == [s["pid"] for s in started["services"]]
    stopped = json.loads(maint("services", "stop", "--json", data_dir=data_dir).stdout)
    assert [s["running"] for s in stopped["services"]] == [False, False]
    # Restart on the kept data (a crash-stopped server must come back too).
    restarted = json.loads(maint("services", "start", "--json", data_dir=data_dir).stdout)
    assert all(s["running"] for s in restarted["services"])
    maint("services", "stop", data_dir=data_dir)


def test_ctrl_c_leaves_consistent_stores_and_a_clear_message(scratch):
    env = {**os.environ, "MAINT_DATA_DIR": str(scratch.settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maint.cli", "ingest", str(SAMPLES)],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "added" in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest  # the CLI's own words, if it ever differs
    assert "interrupted" in rest and "run the command again" in rest
    assert_consistent(scratch)


def test_external_store_urls_are_used_instead_of_embedded(corpus, tmp_path):
    """MAINT_DATABASE_URL / MAINT_GRAPH_URI: here, another workspace's running servers."""
    from infra.embedded import EmbeddedFalkorDB, EmbeddedPostgres

    data_dir = corpus.settings.data_dir
    env = {
        "MAINT_DATABASE_URL": EmbeddedPostgres(data_dir).url,
        "MAINT_GRAPH_URI": EmbeddedFalkorDB(data_dir).url,
    }
    own = tmp_path / "own"
    with_env = {**os.environ, **env, "MAINT_DATA_DIR": str(own)}
    status = subprocess.run(
        [sys.executable, "-m", "maint.cli", "services", "status", "--json"],
        env=with_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert json.loads(status.stdout)["services"] == []  # nothing embedded is used
    run = subprocess.run(
        [sys.executable, "-m", "maint.cli", "ingest", str(GEARBOX), "--json"],
        env=with_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["documents"]["unchanged"] == 1  # the corpus already has it
    assert not (own / "postgres").exists() and not (own / "falkordb").exists()
