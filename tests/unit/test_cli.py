"""The ``maint`` command's help and start-up, as a user sees them (a real subprocess, no
store touched)."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, maint


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


def test_no_hint_to_fetch_kernels_from_the_hub():
    """bitsandbytes suggests `pip install kernels` (a Hub download at run time) on CPUs with
    AVX512-bf16, such as this one; on other CPUs it says nothing either way."""
    code = "import maint, peft, bitsandbytes"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "kernels" not in run.stderr
