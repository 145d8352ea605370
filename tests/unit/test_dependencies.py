"""Every package that maint's code imports is declared in pyproject.toml.

A package that only arrives as another one's dependency can disappear with that package's
next release (click, numpy and platformdirs were imported undeclared). Product code may
import what ``[project].dependencies`` declares; tests and benchmarks also what the ``dev``
extra declares.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["maint", "ingestion", "retrieval", "graph", "finetune", "serving", "eval", "infra"]
DEVELOPMENT = ["tests", "benchmarks"]


def _name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised as PEP 503 does."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    return main, dev


def _imported_top_levels(folder: str) -> dict[str, str]:
    """Top-level module -> one file importing it, for every import in the folder's files."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _ours(module: str, folder: str) -> bool:
    local = ROOT / folder
    return (
        module in PRODUCT + DEVELOPMENT
        or (local / f"{module}.py").exists()
        or any(p.name == f"{module}.py" for p in local.rglob("*.py"))
    )


def _undeclared(folders: list[str], allowed: set[str]) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for folder in folders:
        for module, where in _imported_top_levels(folder).items():
            if module in sys.stdlib_module_names or _ours(module, folder):
                continue
            names = {_name(d) for d in distributions.get(module, [])}
            if not names:
                missing.append(f"{module} (imported by {where}) is not installed")
            elif not names & allowed:
                missing.append(f"{module} (imported by {where}) comes from {sorted(names)}")
    return missing


def test_product_code_imports_only_declared_dependencies():
    main, _ = _declared()
    assert _undeclared(PRODUCT, main) == []


def test_tests_and_benchmarks_import_only_declared_dependencies():
    main, dev = _declared()
    assert _undeclared(DEVELOPMENT, main | dev) == []


def test_the_check_sees_an_undeclared_import():
    """The checker itself: numpy is imported, and without its declaration it is reported."""
    main, _ = _declared()
    assert any(m.startswith("numpy ") for m in _undeclared(PRODUCT, main - {"numpy"}))


def _locked(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every pin in a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in lock.read_text().splitlines():
        if pin := re.match(r"([A-Za-z0-9._-]+)==(\S+)", line):
            name = _name(pin.group(1))
            pins[name] = (pin.group(2), 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def test_lock_pins_every_declared_dependency_within_its_range():
    """pyproject.toml changed without `make lock`: this says which pin no longer fits."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = _locked(ROOT / "requirements" / "maint.lock")
    problems = []
    for line in declared:
        requirement = Requirement(line)
        pin = locked.get(_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{requirement.name}=={pin[0]} is outside {requirement.specifier}")
    assert problems == [], "run `make lock`: " + "; ".join(problems)
    assert locked["torch"][0] == "2.13.0+cpu"  # the CPU wheel, never PyPI's CUDA build
    assert all(hashes for _, hashes in locked.values())  # --require-hashes needs them
    # the uv that `make install` bootstraps is the one the lock pins
    assert _locked(ROOT / "requirements" / "bootstrap.lock")["uv"] == locked["uv"]
