"""docker-compose.yml, the Dockerfile and .env.example stay in step with each other and with config/settings."""

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
BACKING_SERVICES = ("postgres", "redis", "mongo", "minio")
# Where each image keeps its data (from the images' documentation).
DATA_DIRS = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "mongo": "/data/db",
    "minio": "/data",
}
# Read by scripts/docker-entrypoint.sh, not by the settings.
ENTRYPOINT_VARIABLES = {"RUN_MIGRATIONS"}
# Secrets that must never have a default in the compose file.
REQUIRED_SECRETS = {
    "DJANGO_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "MONGO_ROOT_PASSWORD",
    "MINIO_ROOT_PASSWORD",
    "ADMIN_PASSWORD",
}
# django-environ's bool spellings.
BOOL_VALUES = {"true", "on", "ok", "y", "yes", "1", "false", "off", "n", "no", "0", ""}
# daphne's own access log is off: it prints raw query strings (?token=); the app logs requests redacted.
WEB_COMMAND = ["daphne", "-b", "0.0.0.0", "-p", "8000", "--access-log", "/dev/null", "config.asgi:application"]
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _settings_variables() -> dict[str, str]:
    """NAME -> cast ("str", "int", "bool", "list", "db", ...) of every env.<cast>("NAME") call in config/settings."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
                found.setdefault(first.value, func.attr)
            elif isinstance(func, ast.Name) and func.id == "env":
                found.setdefault(first.value, "str")
    return found


SETTINGS_VARIABLES = _settings_variables()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form of environment"
    return {str(k): str(v) for k, v in env.items()}


def _env_example_lines() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def _env_example_variables() -> dict[str, int]:
    """NAME -> line index of each `NAME=` or `# NAME=` line."""
    names: dict[str, int] = {}
    for index, line in enumerate(_env_example_lines()):
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.setdefault(match.group(1), index)
    return names


def test_settings_variables_are_found():
    # Guards the parser itself: a few names every settings module reads.
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MONGODB_URL", "S3_ENDPOINT", "JWT_PRIVATE_KEY"):
        assert name in SETTINGS_VARIABLES
    assert SETTINGS_VARIABLES["DJANGO_DEBUG"] == "bool"
    assert SETTINGS_VARIABLES["DATABASE_URL"] == "db"


def test_compose_uses_the_compose_specification(compose):
    assert "version" not in compose
    assert set(BACKING_SERVICES + APP_SERVICES) <= set(_services(compose))


def test_compose_every_service_has_a_healthcheck(compose):
    for name, service in _services(compose).items():
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert not check.get("disable"), name


def test_compose_backing_services_use_real_images_and_checks(compose):
    services = _services(compose)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["mongo"]["image"] == "mongo:7"
    assert services["minio"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "mongosh" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert services["minio"]["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert services["minio"]["command"].split() == ["server", "/data", "--console-address", ":9001"]


def test_compose_volumes_are_named_and_mounted_at_the_data_dirs(compose):
    services = _services(compose)
    named = set(compose.get("volumes") or {})
    for name, data_dir in DATA_DIRS.items():
        mounts = [str(v).split(":") for v in services[name].get("volumes", [])]
        targets = {m[1]: m[0] for m in mounts if len(m) >= 2}
        assert data_dir in targets, f"{name} does not mount {data_dir}"
        assert targets[data_dir] in named, f"{name}: {targets[data_dir]} is not a named volume"


def test_compose_app_services_wait_for_healthy_backing_services(compose):
    services = _services(compose)
    for name in APP_SERVICES:
        depends = services[name].get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for backing in BACKING_SERVICES:
            assert depends.get(backing) == {"condition": "service_healthy"}, f"{name} -> {backing}"
    # Worker and beat need the schema, which web migrates before it reports healthy.
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_compose_app_commands(compose):
    services = _services(compose)
    assert services["web"]["command"] == WEB_COMMAND
    assert services["worker"]["command"][:5] == ["celery", "-A", "config", "worker", "-l"]
    assert services["beat"]["command"][:5] == ["celery", "-A", "config", "beat", "-l"]
    assert any(str(p).endswith(":8000") for p in services["web"]["ports"])
    # Only web migrates, so several workers never race on the schema.
    assert _environment(services["web"]).get("RUN_MIGRATIONS") == "1"
    for name in ("worker", "beat"):
        assert "RUN_MIGRATIONS" not in _environment(services[name])


def test_compose_app_environment_names_are_settings(compose):
    for name in APP_SERVICES:
        unknown = set(_environment(_services(compose)[name])) - set(SETTINGS_VARIABLES) - ENTRYPOINT_VARIABLES
        assert not unknown, f"{name} sets variables no setting reads: {sorted(unknown)}"


def test_compose_app_environment_values_fit_the_setting_types(compose):
    env = _environment(_services(compose)["web"])
    for name, value in env.items():
        cast = SETTINGS_VARIABLES.get(name)
        match = INTERPOLATION.fullmatch(value)
        if match and match.group("op") in (":?", "?"):
            continue  # no default: the operator supplies it
        literal = match.group("arg") if match else value
        if match:
            assert match.group("op") == ":-", f"{name}: use ${{{name}:-default}}"
        if cast == "int":
            int(literal)
        elif cast == "float":
            float(literal)
        elif cast == "bool":
            assert literal.lower() in BOOL_VALUES, f"{name}={literal!r} is not a boolean"
        if cast in ("int", "float"):
            assert literal != "", f"{name}: an empty value is not a number"


def test_compose_has_no_secrets_only_required_placeholders(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = [m for m in INTERPOLATION.finditer(text) if m.group("name") in REQUIRED_SECRETS]
    assert {m.group("name") for m in secrets} == REQUIRED_SECRETS
    for match in secrets:
        assert match.group("op") == ":?", f"{match.group(0)}: a secret must be required, never defaulted"
    web = _environment(_services(compose)["web"])
    assert web["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")
    assert web["DJANGO_DEBUG"] == "${DJANGO_DEBUG:-false}"


def test_compose_keys_are_mounted_read_only_and_settings_point_at_them(compose):
    for name in APP_SERVICES:
        service = _services(compose)[name]
        mounts = {str(v).split(":")[1]: str(v) for v in service["volumes"]}
        assert "/run/keys" in mounts and mounts["/run/keys"].endswith(":ro"), name
        assert mounts["/run/keys"].startswith("./keys:"), name
        env = _environment(service)
        for setting in ("LOGIN_RSA_PRIVATE_KEY", "JWT_PRIVATE_KEY"):
            assert env[setting].startswith("/run/keys/") and env[setting].endswith(".pem"), setting


def test_compose_web_healthcheck_is_the_image_healthcheck(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^\s*CMD (\[\"python\".*\])$", dockerfile, re.MULTILINE)
    assert match, "the Dockerfile HEALTHCHECK is an exec-form python probe"
    image_probe = json.loads(match.group(1))
    assert "http://127.0.0.1:8000/api/v1/health" in image_probe[-1]
    assert _services(compose)["web"]["healthcheck"]["test"] == ["CMD", *image_probe]


def test_dockerfile_runs_unprivileged_and_collects_static():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.MULTILINE)
    assert "collectstatic" in dockerfile and "DJANGO_DEBUG=false" in dockerfile
    assert f"CMD {json.dumps(WEB_COMMAND)}" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for secret in (".env", "keys/", "*.pem", ".git"):
        assert secret in ignored, f".dockerignore must exclude {secret}"


def test_env_example_lists_every_setting_variable():
    listed = _env_example_variables()
    missing = sorted(set(SETTINGS_VARIABLES) - set(listed))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_lists_every_compose_variable():
    text = (ROOT / "docker-compose.yml").read_text()
    used = {m.group("name") for m in INTERPOLATION.finditer(text)}
    missing = sorted(used - set(_env_example_variables()))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_comments_every_variable_and_changes_nothing_when_copied():
    lines = _env_example_lines()
    for name, index in _env_example_variables().items():
        # Commented out: copying the file to .env keeps every embedded default (and DEBUG-only ones).
        assert lines[index].startswith("# "), f"{name} should be commented out in .env.example"
        previous = lines[index - 1] if index else ""
        assert previous.startswith("# ") and not re.match(r"^#\s*[A-Z][A-Z0-9_]*=", previous), (
            f"{name} has no comment line of its own above it"
        )
