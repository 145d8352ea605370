"""The ``maint`` command's help and start-up, as a user sees them (a real subprocess, no
store touched)."""

from __future__ import annotations

import os
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


def test_no_hint_to_fetch_kernels_from_the_hub():
    """On CPUs with AVX512-bf16, bitsandbytes suggests `pip install kernels` (a Hub download at
    run time), and `kernels`, offline, warns that it skips its publisher check. Neither may
    reach a technician's terminal; without maint's set-up both lines appear (checked first)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    code = FORCE_AVX512_BF16 + "import peft, bitsandbytes"
    bare = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert bare.returncode == 0, bare.stderr
    assert "kernels" in bare.stderr  # the path is really taken
    code = FORCE_AVX512_BF16 + "from maint.process import setup; setup(); import peft, bitsandbytes"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""


def test_a_bad_setting_is_named_with_what_to_do_not_a_traceback(tmp_path):
    bad = maint(
        "documents",
        "list",
        data_dir=tmp_path,
        env={"MAINT_EMBEDDING_THREADS": "0", "COLUMNS": "200"},
    )
    assert bad.returncode == 2
    assert "MAINT_EMBEDDING_THREADS='0' is not valid" in bad.stderr
    assert "MAINT_CONFIG" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "postgres").exists()  # stopped before any store was touched
