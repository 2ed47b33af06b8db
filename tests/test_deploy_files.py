"""The generated deployment files: deploy/gateway/caddy.json (docker compose) and deploy/kubernetes/.

They are what the code generates (`invora deploy render`), Caddy accepts the gateway's, and every
Kubernetes manifest is valid against the Kubernetes schemas (kubernetes-validate, strict) and wires
the suite as docs/operations.md describes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from invora.db.migrate import SERVICES
from invora.deploy.files import GATEWAY_CONFIG, KUBERNETES_DIR, generated_files, stale_files, write_files
from invora.deploy.gateway import GATEWAY_PORT, service_ports
from invora.gateway.binary import caddy_binary

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES_VERSION = "1.30.0"


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return generated_files()


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    documents = []
    for path in sorted((ROOT / KUBERNETES_DIR).rglob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def of_kind(manifests: list[dict], kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def container(deployment: dict) -> dict:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def test_committed_files_are_what_the_code_generates(generated):
    stale = stale_files(ROOT)
    assert stale == [], f"out of date (a route or the deployment code changed: run `make deploy-files`): {stale}"
    assert GATEWAY_CONFIG in generated and len([p for p in generated if p.parent == KUBERNETES_DIR]) >= 8


def test_the_freshness_check_notices_a_changed_a_missing_and_a_stray_file(tmp_path, generated):
    assert set(stale_files(tmp_path)) == set(generated)  # nothing written yet
    assert set(write_files(tmp_path)) == set(generated)
    assert stale_files(tmp_path) == [] and write_files(tmp_path) == []
    edited = tmp_path / KUBERNETES_DIR / "20-catalog.yaml"
    edited.write_text(edited.read_text().replace("replicas: 2", "replicas: 3"))
    (tmp_path / GATEWAY_CONFIG).unlink()
    (tmp_path / KUBERNETES_DIR / "99-by-hand.yaml").write_text("kind: ConfigMap\n")
    assert set(stale_files(tmp_path)) == {edited.relative_to(tmp_path), GATEWAY_CONFIG,
                                          KUBERNETES_DIR / "99-by-hand.yaml"}


def test_caddy_accepts_the_container_gateway_config():
    result = subprocess.run([caddy_binary(), "validate", "--config", str(ROOT / GATEWAY_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_manifest_is_valid_for_kubernetes(manifests):
    assert len(manifests) >= 30
    for manifest in manifests:
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {error.message} at {error.path}")


def test_a_broken_manifest_is_caught(manifests):
    """The validation above would notice a mistake (a misspelt field, a port as a list)."""
    deployment = json.loads(json.dumps(of_kind(manifests, "Deployment")["catalog"]))
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_probes_resources_budget_and_autoscaling(manifests, service):
    port = service_ports()[service]
    deployment = of_kind(manifests, "Deployment")[service]
    spec = container(deployment)
    assert f"{service}.app:create_app" in spec["command"] and str(port) in spec["command"]
    assert spec["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert spec["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert spec["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert spec["resources"]["requests"]["cpu"] and spec["resources"]["requests"]["memory"]
    assert spec["resources"]["limits"]["memory"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"].items() >= labels.items()

    kube_service = of_kind(manifests, "Service")[service]
    assert kube_service["spec"]["selector"] == labels
    assert kube_service["spec"]["ports"][0]["port"] == port  # `<service>:<port>`, as in compose

    budget = of_kind(manifests, "PodDisruptionBudget")[service]
    assert budget["spec"]["selector"]["matchLabels"] == labels
    assert budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]

    scaler = of_kind(manifests, "HorizontalPodAutoscaler")[service]
    assert scaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert scaler["spec"]["minReplicas"] >= 2 and scaler["spec"]["maxReplicas"] > scaler["spec"]["minReplicas"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_reads_its_own_database_and_the_keys_from_secrets(manifests, service):
    env = {e["name"]: e for e in container(of_kind(manifests, "Deployment")[service])["env"]}
    reference = env[f"INVORA_{service.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    secret = of_kind(manifests, "Secret")[reference["name"]]
    url = secret["stringData"][reference["key"]]
    assert url.startswith("postgresql+asyncpg://") and url.endswith(f"/invora_{service}")
    assert env["INVORA_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] in of_kind(manifests, "Secret")
    assert env["INVORA_SECRETS_KEY"]["valueFrom"]["secretKeyRef"]["name"] in of_kind(manifests, "Secret")
    pod = of_kind(manifests, "Deployment")[service]["spec"]["template"]["spec"]
    assert any(v.get("secret", {}).get("secretName") == "invora-auth-keys" for v in pod["volumes"])
    # secret files belong to root and the pod's fsGroup: the service's user reads them through the group
    for volume in pod["volumes"]:
        if "secret" in volume:
            assert volume["secret"]["defaultMode"] & 0o040, volume
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_every_referenced_secret_and_config_map_exists(manifests):
    secrets, config_maps = set(of_kind(manifests, "Secret")), set(of_kind(manifests, "ConfigMap"))
    text = json.dumps(manifests)
    for reference in ("secretKeyRef", "secretName", "configMapRef"):
        assert reference in text
    for manifest in manifests:
        pod = (manifest.get("spec", {}).get("template") or {}).get("spec")
        if not pod:
            continue
        for item in pod["containers"]:
            for env in item.get("env", []):
                if "valueFrom" in env:
                    assert env["valueFrom"]["secretKeyRef"]["name"] in secrets
            for source in item.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps


def test_postgresql_and_kafka_are_external(manifests):
    kinds = {m["kind"] for m in manifests}
    assert "StatefulSet" not in kinds and "PersistentVolumeClaim" not in kinds
    images = {c["image"] for m in manifests if m["kind"] in ("Deployment", "Job")
              for c in m["spec"]["template"]["spec"]["containers"]}
    assert not any("postgres" in image or "kafka" in image for image in images)
    config = of_kind(manifests, "ConfigMap")["invora-config"]["data"]
    assert config["INVORA_KAFKA_BOOTSTRAP_SERVERS"] and config["INVORA_KAFKA_REPLICATION_FACTOR"] == "3"


def test_the_migrations_job_migrates_every_database(manifests):
    job = of_kind(manifests, "Job")["invora-migrate"]
    spec = container(job)
    assert spec["command"] == ["invora", "migrate"]
    names = {e["name"] for e in spec["env"]}
    assert names == {f"INVORA_{s.upper()}_DATABASE_URL" for s in SERVICES} | {"INVORA_SECRETS_KEY"}


def test_the_gateway_runs_the_generated_config(manifests):
    config_map = of_kind(manifests, "ConfigMap")["invora-gateway"]
    assert config_map["data"]["caddy.json"] == (ROOT / GATEWAY_CONFIG).read_text()
    caddy = json.loads(config_map["data"]["caddy.json"])
    upstreams = {u["dial"] for route in caddy["apps"]["http"]["servers"]["invora"]["routes"]
                 for handler in route["handle"] if handler["handler"] == "reverse_proxy"
                 for u in handler["upstreams"]}
    services = of_kind(manifests, "Service")
    assert upstreams == {f"{s}:{services[s]['spec']['ports'][0]['port']}" for s in SERVICES}

    gateway = of_kind(manifests, "Deployment")["gateway"]
    spec = container(gateway)
    assert spec["image"].startswith("caddy:2")
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health"
    assert services["gateway"]["spec"]["ports"][0]["port"] == GATEWAY_PORT
    assert "gateway" in of_kind(manifests, "PodDisruptionBudget")
    assert "gateway" in of_kind(manifests, "HorizontalPodAutoscaler")
