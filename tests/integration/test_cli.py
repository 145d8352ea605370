"""The ``maint`` command as a user runs it (a real subprocess, real stores)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import GEARBOX, ROOT, SAMPLES, assert_consistent, assert_only_maint_wrote, maint


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


@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_ctrl_c_leaves_consistent_stores_and_a_clear_message(scratch, model_cache, backend):
    """Ctrl-C after the first file: exit 130 within seconds (not at the end of the batch),
    the message, and nothing half-stored; with either embedder (onnxruntime's threads must
    not keep the signal from the pipeline)."""
    env = {
        **os.environ,
        "MAINT_DATA_DIR": str(scratch.settings.data_dir),
        "MAINT_MODEL_CACHE_DIR": str(model_cache),  # the int8 export, made once a session
        "MAINT_EMBEDDING_BACKEND": backend,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "maint.cli", "ingest", str(SAMPLES)],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started as a background job (`make test &`) has
        # SIGINT ignored, its children inherit that, and Python then never raises Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "added" in line:
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest  # the CLI's own words, if it ever differs
    assert time.monotonic() - sent < 30, rest  # the next file's chunk at most, not the batch
    assert "interrupted" in rest and "run the command again" in rest
    assert_consistent(scratch)  # a half-written file is invisible, and goes on the next run


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
