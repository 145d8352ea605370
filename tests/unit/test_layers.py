"""Imports run one way: delivery (the CLIs, the API) -> answering -> retrieval / ingestion ->
stores -> the ground floor (``maint/``). Read from the source with ``ast``, every import
counts, also those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "pyproject.toml").is_file():  # the test may sit one folder deeper
    ROOT = ROOT.parent

# (files, what they must not import, what they may import of that all the same)
RULES = [
    pytest.param(
        "maint/",
        ("ingestion", "retrieval", "graph", "serving", "eval", "finetune", "infra"),
        (),
        id="maint is the ground floor (its CLI root excepted)",
    ),
    pytest.param("retrieval/", ("serving", "eval", "finetune", "ingestion"), (), id="retrieval"),
    pytest.param(
        "graph/", ("serving", "eval", "finetune", "retrieval", "ingestion"), (), id="graph"
    ),
    pytest.param("ingestion/", ("serving", "eval", "finetune"), (), id="ingestion"),
    pytest.param(
        "ingestion/",
        ("retrieval",),
        ("retrieval.store",),
        id="ingestion reaches retrieval only through the store interface",
    ),
    pytest.param(
        "eval/", ("serving",), ("serving.answering",), id="eval uses the answering room only"
    ),
    pytest.param(
        "finetune/",
        ("serving", "eval"),
        ("serving.answering",),
        id="finetune uses the answering room only",
    ),
    pytest.param(
        "serving/answering/",
        ("serving.api", "serving.cli", "eval", "finetune"),
        (),
        id="answering knows nothing of its delivery",
    ),
]
EXEMPT = {"maint/cli.py"}  # the command's root: it gathers every package's commands


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def imported(path: Path) -> list[str]:
    """Every dotted name ``path`` imports ('from a.b import c' -> 'a.b.c')."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(("folder", "forbidden", "allowed"), RULES)
def test_imports_run_one_way(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...]):
    found = sources(folder)
    assert found, f"no sources under {folder}"
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in found
        if str(path.relative_to(ROOT)) not in EXEMPT
        for name in imported(path)
        if _under(name, forbidden) and not _under(name, allowed)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_reader_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import graph.base\nfrom retrieval.store import ChunkStore\n"
        "def f():\n    from serving.answering import guard\n"
    )
    assert sorted(imported(source)) == [
        "graph.base",
        "retrieval.store.ChunkStore",
        "serving.answering.guard",
    ]
