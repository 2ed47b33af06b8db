"""Structure of docker-compose.yml: infrastructure, the six services, their wiring.

No Docker needed: the file is parsed and checked, so a broken compose file fails the
ordinary test run instead of a `docker compose up` later.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"

SERVICE_PORTS = {
    "catalog": 8101,
    "subscriptions": 8102,
    "invoicing": 8103,
    "payments": 8104,
    "wallets": 8105,
    "notifications": 8106,
}
SERVICES = list(SERVICE_PORTS)


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open() as handle:
        document = yaml.safe_load(handle)
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    assert isinstance(document.get("services"), dict), "docker-compose.yml has no `services` mapping"
    return document


def environment(service: dict) -> dict[str, str]:
    """`environment` as a dict, whether written as a mapping or as a list of KEY=value."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        env = dict(pairs)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def as_words(value: str | list | None) -> list[str]:
    """A compose `command` / healthcheck `test` as a list of words."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(word) for word in value]


def depends_on(service: dict) -> dict[str, str | None]:
    """`depends_on` as {name: condition}; the short list form has no condition."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: None for name in deps}
    return {name: (spec or {}).get("condition") for name, spec in deps.items()}


def published_ports(service: dict) -> set[tuple[int | None, int]]:
    """(host port, container port) pairs from short ("8101:8101") or long port syntax."""
    pairs: set[tuple[int | None, int]] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            pairs.add((int(published) if published is not None else None, int(entry["target"])))
            continue
        text = str(entry).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        container = int(parts[-1])
        host = parts[-2] if len(parts) >= 2 else None
        pairs.add((int(host) if host and host.isdigit() else None, container))
    return pairs


def database_url(service_name: str, env: dict[str, str]) -> str | None:
    return env.get(f"INVORA_{service_name.upper()}_DATABASE_URL") or env.get("INVORA_DATABASE_URL")


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def init_script_databases() -> set[str]:
    text = INIT_SCRIPT.read_text()
    match = re.search(r"^databases=\((.*?)\)", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "init-databases.sh must list its databases in a `databases=( ... )` array"
    return set(match.group(1).split())


# -- infrastructure -----------------------------------------------------------------------


def test_compose_file_parses():
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)


def test_compose_file_has_postgres_kafka_and_all_six_services(compose):
    services = compose["services"]
    missing = {"postgres", "kafka", *SERVICES} - set(services)
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_postgres_is_version_18_with_a_pg_isready_healthcheck(compose):
    postgres = compose["services"]["postgres"]
    assert str(postgres.get("image", "")).startswith("postgres:18"), "postgres must run the postgres:18 image"
    words = as_words((postgres.get("healthcheck") or {}).get("test"))
    assert any("pg_isready" in word for word in words), "postgres needs a pg_isready healthcheck"


def test_postgres_runs_the_init_script(compose):
    assert INIT_SCRIPT.is_file(), f"{INIT_SCRIPT.relative_to(ROOT)} is missing"
    mounts = [str(volume) for volume in compose["services"]["postgres"].get("volumes") or []]
    init_mounts = [m for m in mounts if "/docker-entrypoint-initdb.d" in m.split(":", 1)[-1]]
    assert init_mounts, "postgres must mount an init script into /docker-entrypoint-initdb.d"
    sources = {(ROOT / mount.split(":", 1)[0]).resolve() for mount in init_mounts}
    assert INIT_SCRIPT.resolve() in sources or INIT_SCRIPT.parent.resolve() in sources, (
        "postgres must mount deploy/postgres/init-databases.sh (or its folder) as an init script"
    )


def test_kafka_runs_in_kraft_mode_without_zookeeper(compose):
    services = compose["services"]
    kafka = services["kafka"]
    env = environment(kafka)
    assert str(kafka.get("image", "")).startswith("apache/kafka"), "kafka must use the apache/kafka image"
    roles = {role.strip() for role in env.get("KAFKA_PROCESS_ROLES", "").split(",")}
    assert {"broker", "controller"} <= roles, "KAFKA_PROCESS_ROLES must be broker,controller (KRaft)"
    assert env.get("KAFKA_NODE_ID"), "KRaft needs KAFKA_NODE_ID"
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"), "KRaft needs KAFKA_CONTROLLER_QUORUM_VOTERS"
    assert env.get("KAFKA_CONTROLLER_LISTENER_NAMES"), "KRaft needs KAFKA_CONTROLLER_LISTENER_NAMES"
    assert env.get("KAFKA_LISTENERS"), "kafka needs KAFKA_LISTENERS"
    assert not any("ZOOKEEPER" in key for key in env), "kafka must not be configured for ZooKeeper"
    zookeepers = [
        name
        for name, service in services.items()
        if "zookeeper" in name.lower() or "zookeeper" in str(service.get("image", "")).lower()
    ]
    assert not zookeepers, f"no ZooKeeper service expected, found {zookeepers}"


def test_kafka_is_single_node_and_does_not_auto_create_topics(compose):
    env = environment(compose["services"]["kafka"])
    assert env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1", (
        "a single broker needs KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1"
    )
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false", (
        "topics are created explicitly; KAFKA_AUTO_CREATE_TOPICS_ENABLE must be false"
    )


def test_kafka_has_a_broker_healthcheck(compose):
    words = " ".join(as_words((compose["services"]["kafka"].get("healthcheck") or {}).get("test")))
    assert re.search(r"kafka-(broker-api-versions|topics)", words), (
        "kafka needs a healthcheck using kafka-broker-api-versions or kafka-topics"
    )


# -- the services -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_service_builds_from_the_shared_dockerfile(compose, name):
    build = compose["services"][name].get("build")
    assert build, f"{name} must be built (build: deploy/Dockerfile)"
    if isinstance(build, str):
        context, dockerfile = build, "Dockerfile"
    else:
        context, dockerfile = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    path = (ROOT / context / dockerfile).resolve()
    assert path == (ROOT / "deploy" / "Dockerfile").resolve(), (
        f"{name} builds from {path}, not deploy/Dockerfile"
    )
    assert path.is_file(), "deploy/Dockerfile is missing"


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_service_runs_its_app_on_its_port_and_publishes_it(compose, name, port):
    service = compose["services"][name]
    words = as_words(service.get("command"))
    assert f"{name}.app:create_app" in words, f"{name} must run uvicorn {name}.app:create_app"
    assert "--factory" in words, f"{name}: create_app is a factory (uvicorn --factory)"
    assert "--port" in words and words[words.index("--port") + 1] == str(port), (
        f"{name} must listen on --port {port}"
    )
    assert "--host" in words and words[words.index("--host") + 1] == "0.0.0.0", (
        f"{name} must bind 0.0.0.0 to be reachable from other containers"
    )
    assert (port, port) in published_ports(service), f"{name} must publish {port}:{port}"


@pytest.mark.parametrize(("name", "port"), SERVICE_PORTS.items())
def test_service_has_a_readiness_healthcheck(compose, name, port):
    healthcheck = compose["services"][name].get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{name}'s healthcheck is disabled"
    words = as_words(healthcheck.get("test"))
    assert words and words[0] in ("CMD", "CMD-SHELL"), f"{name} needs a healthcheck test"
    joined = " ".join(words)
    assert f":{port}/ready" in joined, f"{name}'s healthcheck must probe its own /ready on port {port}"
    assert not re.search(r"\b(curl|wget)\b", joined), f"{name}: the slim image has no curl or wget"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_infrastructure_and_migrations(compose, name):
    deps = depends_on(compose["services"][name])
    for infrastructure in ("postgres", "kafka"):
        assert deps.get(infrastructure) == "service_healthy", (
            f"{name} must depend on {infrastructure} with condition: service_healthy"
        )
    assert deps.get("migrate") == "service_completed_successfully", (
        f"{name} must wait for migrate (condition: service_completed_successfully)"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_database_url_points_at_its_own_database(compose, name):
    env = environment(compose["services"][name])
    url = database_url(name, env)
    assert url, f"{name} needs INVORA_{name.upper()}_DATABASE_URL"
    parts = urlsplit(url)
    assert parts.scheme == "postgresql+asyncpg", f"{name}: the database URL must use the asyncpg driver"
    assert parts.hostname == "postgres", f"{name}: the database URL must point at the postgres service"
    assert database_name(url) == f"invora_{name}", f"{name} must use its own database invora_{name}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_reaches_kafka_through_an_advertised_listener(compose, name):
    env = environment(compose["services"][name])
    servers = env.get(f"INVORA_{name.upper()}_KAFKA_BOOTSTRAP_SERVERS") or env.get(
        "INVORA_KAFKA_BOOTSTRAP_SERVERS"
    )
    assert servers, f"{name} needs INVORA_KAFKA_BOOTSTRAP_SERVERS"
    advertised = environment(compose["services"]["kafka"]).get("KAFKA_ADVERTISED_LISTENERS", "")
    endpoints = {listener.split("://", 1)[-1] for listener in advertised.split(",")}
    for server in servers.split(","):
        assert server.strip() in endpoints, f"{name}: {server} is not one of kafka's advertised listeners"


@pytest.mark.parametrize("name", SERVICES)
def test_service_verifies_api_keys_against_a_public_key(compose, name):
    env = environment(compose["services"][name])
    keys = env.get(f"INVORA_{name.upper()}_AUTH_PUBLIC_KEYS") or env.get("INVORA_AUTH_PUBLIC_KEYS")
    assert keys, f"{name} needs INVORA_AUTH_PUBLIC_KEYS"


def test_services_use_distinct_databases(compose):
    names = [database_name(database_url(n, environment(compose["services"][n])) or "") for n in SERVICES]
    assert len(set(names)) == len(SERVICES), f"services share a database: {names}"


# -- migrations and databases -------------------------------------------------------------


def test_migrate_is_a_one_shot_invora_migrate_after_postgres(compose):
    migrate = compose["services"].get("migrate")
    assert migrate, "a one-shot `migrate` service is expected"
    words = as_words(migrate.get("command"))
    assert words[:2] == ["invora", "migrate"], "migrate must run `invora migrate`"
    assert depends_on(migrate).get("postgres") == "service_healthy", (
        "migrate must wait for a healthy postgres"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_migrate_targets_the_same_database_as_the_service(compose, name):
    migrate_env = environment(compose["services"]["migrate"])
    service_env = environment(compose["services"][name])
    assert database_url(name, migrate_env) == database_url(name, service_env), (
        f"migrate and {name} must use the same INVORA_{name.upper()}_DATABASE_URL"
    )


def test_every_database_the_services_use_is_created_by_the_init_script(compose):
    used = set()
    for service in compose["services"].values():
        for key, value in environment(service).items():
            if key.endswith("DATABASE_URL") and value:
                used.add(database_name(value))
    assert used >= {f"invora_{name}" for name in SERVICES}
    missing = used - init_script_databases()
    assert not missing, f"databases used but not created by init-databases.sh: {sorted(missing)}"


# -- the gateway --------------------------------------------------------------------------


def test_gateway_runs_the_official_caddy_image_with_the_generated_config(compose):
    gateway = compose["services"].get("gateway")
    assert gateway, "a `gateway` service (Caddy) is expected"
    assert str(gateway.get("image", "")).startswith("caddy:2"), "the gateway runs the official caddy:2 image"
    words = as_words(gateway.get("command"))
    assert words[:2] == ["caddy", "run"] and "--config" in words
    config_path = words[words.index("--config") + 1]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in gateway.get("volumes") or []}
    assert config_path in mounts, f"the gateway must mount its config at {config_path}"
    source = (ROOT / mounts[config_path]).resolve()
    assert source == (ROOT / "deploy" / "gateway" / "caddy.json").resolve() and source.is_file()
    assert (8100, 8100) in published_ports(gateway)
    assert " ".join(as_words((gateway.get("healthcheck") or {}).get("test"))).endswith(":8100/health")


def test_gateway_config_reaches_every_service_by_its_compose_name_and_port(compose):
    import json

    config = json.loads((ROOT / "deploy" / "gateway" / "caddy.json").read_text())
    routes = config["apps"]["http"]["servers"]["invora"]["routes"]
    dials = {u["dial"] for r in routes for h in r["handle"] if h["handler"] == "reverse_proxy" for u in h["upstreams"]}
    assert dials == {f"{name}:{port}" for name, port in SERVICE_PORTS.items()}
    for name in SERVICE_PORTS:
        assert name in compose["services"]
    assert config["apps"]["http"]["servers"]["invora"]["listen"] == [":8100"]
