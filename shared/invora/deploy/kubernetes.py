"""Kubernetes manifests for the suite: the six services, the gateway and the migrations job, against
an external PostgreSQL and Kafka. Generated (`invora deploy render`) into `deploy/kubernetes/`.

Every workload is stateless (its state is in its PostgreSQL database and in Kafka), so each gets a
Deployment, a Service named like the service (so `catalog:8101` resolves as in docker compose, and
the gateway's configuration is the same file), a PodDisruptionBudget and a HorizontalPodAutoscaler.
What must run once per database (the outbox relay's publishing, the schedulers) is decided inside
the services by database locks, not by replica counts; see docs/operations.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from invora.db.migrate import SERVICES
from invora.deploy.gateway import GATEWAY_PORT, container_gateway_json, service_ports
from invora.gateway.routes import RouteTable

PART_OF = "invora"
IMAGE = "invora:0.1.0"  # build with deploy/Dockerfile and push to your registry; see docs/operations.md
CADDY_IMAGE = "caddy:2.11-alpine"
RUN_AS = 10001  # the `invora` user of deploy/Dockerfile

CONFIG = "invora-config"
DATABASE_SECRET = "invora-database"
KAFKA_SECRET = "invora-kafka"
AUTH_KEYS_SECRET = "invora-auth-keys"
SIGNING_KEY_SECRET = "invora-signing-key"
SECRETS_KEY_SECRET = "invora-secrets-key"
GATEWAY_CONFIG = "invora-gateway"
PLACEHOLDER = "REPLACE-ME"


@dataclass(frozen=True)
class Sizing:
    cpu: str
    memory: str
    memory_limit: str
    min_replicas: int = 2
    max_replicas: int = 4


# ingestion and usage queries make subscriptions the busiest; notifications fans out webhooks
SIZING: dict[str, Sizing] = {
    "catalog": Sizing("200m", "256Mi", "512Mi"),
    "subscriptions": Sizing("500m", "384Mi", "768Mi", max_replicas=8),
    "invoicing": Sizing("200m", "256Mi", "512Mi"),
    "payments": Sizing("200m", "256Mi", "512Mi"),
    "wallets": Sizing("200m", "256Mi", "512Mi"),
    "notifications": Sizing("250m", "256Mi", "512Mi", max_replicas=6),
    "gateway": Sizing("100m", "64Mi", "256Mi", max_replicas=6),
}


def labels(name: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/component": component}


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def metadata(name: str, component: str) -> dict[str, Any]:
    return {"name": name, "labels": labels(name, component)}


def secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}}


def pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"}}


def http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": 3,
            "failureThreshold": failures}


def resources(sizing: Sizing) -> dict[str, Any]:
    return {"requests": {"cpu": sizing.cpu, "memory": sizing.memory}, "limits": {"memory": sizing.memory_limit}}


def database_env(service: str) -> dict[str, Any]:
    return secret_env(f"INVORA_{service.upper()}_DATABASE_URL", DATABASE_SECRET, service)


def secrets_key_env() -> dict[str, Any]:
    return secret_env("INVORA_SECRETS_KEY", SECRETS_KEY_SECRET, "ring")


# -- shared configuration and secrets ----------------------------------------------------------


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(CONFIG, "config"),
        "data": {
            "INVORA_KAFKA_BOOTSTRAP_SERVERS": "kafka-1.example.internal:9096,kafka-2.example.internal:9096",
            "INVORA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "INVORA_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "INVORA_KAFKA_TOPIC_PARTITIONS": "6",
            "INVORA_KAFKA_REPLICATION_FACTOR": "3",
            "INVORA_DATABASE_SSL_MODE": "require",
            "INVORA_DATABASE_POOL_SIZE": "10",
            "INVORA_AUTH_PUBLIC_KEYS": "/keys/public.pem",
            "INVORA_AUTH_ISSUER": "invora",
            "INVORA_HOST": "0.0.0.0",
            "INVORA_LOG_LEVEL": "INFO",
            "INVORA_LOG_JSON": "true",
            # the public base URL of the API (where the gateway is exposed): `iss` of `jwt` webhook signatures
            "INVORA_NOTIFICATIONS_WEBHOOK_JWT_ISSUER": "https://billing-api.example.com",
            # the same origin: the base of documents' `file_url` links (invoicing, payments)
            "INVORA_PUBLIC_URL": "https://billing-api.example.com",
        },
    }


def secrets() -> list[dict[str, Any]]:
    """Placeholders: create the real ones with kubectl (docs/operations.md), never commit them."""
    def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata(name, "secret"), "type": "Opaque",
                "stringData": data}

    databases = {s: f"postgresql+asyncpg://invora_{s}:{PLACEHOLDER}@postgres.example.internal:5432/invora_{s}"
                 for s in SERVICES}
    return [
        secret(DATABASE_SECRET, databases),
        secret(KAFKA_SECRET, {"username": "invora", "password": PLACEHOLDER}),
        secret(AUTH_KEYS_SECRET, {"public.pem": f"{PLACEHOLDER}: output of `invora keys public`\n"}),
        secret(SIGNING_KEY_SECRET, {"private.pem": f"{PLACEHOLDER}: the PEM private key the public key pairs with\n"}),
        # the key ring secrets at rest are encrypted with: output of `invora secrets generate-key`
        secret(SECRETS_KEY_SECRET, {"ring": f"{PLACEHOLDER}"}),
    ]


# -- the services ------------------------------------------------------------------------------


def service_container(service: str, port: int) -> dict[str, Any]:
    env = [
        database_env(service),
        secrets_key_env(),
        secret_env("INVORA_KAFKA_SASL_USERNAME", KAFKA_SECRET, "username", optional=True),
        secret_env("INVORA_KAFKA_SASL_PASSWORD", KAFKA_SECRET, "password", optional=True),
        {"name": f"INVORA_{service.upper()}_PORT", "value": str(port)},
    ]
    mounts = [{"name": "auth-keys", "mountPath": "/keys", "readOnly": True},
              {"name": "tmp", "mountPath": "/tmp"}]
    if service == "subscriptions":
        # reads plan versions from the catalog with short-lived `service` keys it signs itself
        env += [{"name": "INVORA_SUBSCRIPTIONS_CATALOG_URL", "value": f"http://catalog:{service_ports()['catalog']}"},
                {"name": "INVORA_SUBSCRIPTIONS_SERVICE_SIGNING_KEY", "value": "/signing/private.pem"}]
        mounts.append({"name": "signing-key", "mountPath": "/signing", "readOnly": True})
    if service == "wallets":
        # reads customers' current usage from subscriptions (the ongoing balance) with `service` keys it signs
        env += [{"name": "INVORA_WALLETS_SUBSCRIPTIONS_URL",
                 "value": f"http://subscriptions:{service_ports()['subscriptions']}"},
                {"name": "INVORA_WALLETS_SERVICE_SIGNING_KEY", "value": "/signing/private.pem"}]
        mounts.append({"name": "signing-key", "mountPath": "/signing", "readOnly": True})
    if service == "payments":
        # customers created a moment ago (their `customer.created` not arrived yet) read from subscriptions
        # with `service` keys it signs
        env += [{"name": "INVORA_PAYMENTS_SUBSCRIPTIONS_URL",
                 "value": f"http://subscriptions:{service_ports()['subscriptions']}"},
                {"name": "INVORA_PAYMENTS_SERVICE_SIGNING_KEY", "value": "/signing/private.pem"}]
        mounts.append({"name": "signing-key", "mountPath": "/signing", "readOnly": True})
    if service == "invoicing":
        # previews of subscriptions and plan versions missing from its projection: fresh reads from the
        # subscriptions, wallets and catalog services with short-lived `service` keys it signs itself
        ports = service_ports()
        env += [{"name": f"INVORA_INVOICING_{name.upper()}_URL", "value": f"http://{name}:{ports[name]}"}
                for name in ("subscriptions", "wallets", "catalog")]
        env.append({"name": "INVORA_INVOICING_SERVICE_SIGNING_KEY", "value": "/signing/private.pem"})
        mounts.append({"name": "signing-key", "mountPath": "/signing", "readOnly": True})
    return {
        "name": service,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["uvicorn", f"{service}.app:create_app", "--factory", "--host", "0.0.0.0", "--port", str(port),
                    "--no-access-log", "--timeout-graceful-shutdown", "20"],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        "startupProbe": http_probe("/health", 2, 30),
        "livenessProbe": http_probe("/health", 10, 3),
        "readinessProbe": http_probe("/ready", 5, 3),
        "resources": resources(SIZING[service]),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }


def service_volumes(service: str) -> list[dict[str, Any]]:
    volumes = [
        {"name": "auth-keys", "secret": {"secretName": AUTH_KEYS_SECRET, "defaultMode": 0o444}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if service in ("subscriptions", "invoicing", "payments", "wallets"):
        # owner root, group fsGroup (the service's group): readable by the group, nobody else
        volumes.append({"name": "signing-key", "secret": {"secretName": SIGNING_KEY_SECRET, "defaultMode": 0o440}})
    return volumes


def deployment(name: str, component: str, containers: list[dict], volumes: list[dict],
               annotations: dict[str, str], grace_seconds: int = 30) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(name, component),
        "spec": {
            "replicas": SIZING[name].min_replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(name, component), "annotations": annotations},
                "spec": {
                    "securityContext": pod_security(),
                    "terminationGracePeriodSeconds": grace_seconds,
                    "containers": containers,
                    "volumes": volumes,
                },
            },
        },
    }


def kube_service(name: str, component: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": metadata(name, component),
        "spec": {"type": "ClusterIP", "selector": selector(name),
                 "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]},
    }


def disruption_budget(name: str, component: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(name, component),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(name)}}}


def autoscaler(name: str, component: str) -> dict[str, Any]:
    sizing = SIZING[name]
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": metadata(name, component),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": sizing.min_replicas,
            "maxReplicas": sizing.max_replicas,
            "metrics": [{"type": "Resource",
                         "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
            # scale in slowly: a consumer group rebalances on every change of membership
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                       "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}},
        },
    }


def service_manifests(service: str, port: int) -> list[dict[str, Any]]:
    annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}
    return [
        deployment(service, "service", [service_container(service, port)], service_volumes(service), annotations),
        kube_service(service, "service", port),
        disruption_budget(service, "service"),
        autoscaler(service, "service"),
    ]


# -- the migrations job ------------------------------------------------------------------------


def migrate_job() -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": metadata("invora-migrate", "migrations"),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 900,
            "template": {
                "metadata": {"labels": labels("invora-migrate", "migrations")},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security(),
                    "containers": [{
                        "name": "migrate",
                        "image": IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["invora", "migrate"],
                        "envFrom": [{"configMapRef": {"name": CONFIG}}],
                        # a migration encrypts secrets an older version stored in clear
                        "env": [*(database_env(s) for s in SERVICES), secrets_key_env()],
                        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                        "securityContext": container_security(),
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


# -- the gateway -------------------------------------------------------------------------------


def gateway_manifests(caddy_json: str) -> list[dict[str, Any]]:
    digest = hashlib.sha256(caddy_json.encode()).hexdigest()
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(GATEWAY_CONFIG, "gateway"),
              "data": {"caddy.json": caddy_json}}
    container = {
        "name": "caddy",
        "image": CADDY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["caddy", "run", "--config", "/etc/caddy/caddy.json"],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        "env": [{"name": "XDG_DATA_HOME", "value": "/data"}, {"name": "XDG_CONFIG_HOME", "value": "/config"}],
        # /health answers 200 while Caddy runs, whatever the services' state (it reports them)
        "startupProbe": http_probe("/health", 2, 15),
        "livenessProbe": http_probe("/health", 10, 3),
        "readinessProbe": http_probe("/health", 5, 2),
        "resources": resources(SIZING["gateway"]),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/caddy", "readOnly": True},
                         {"name": "data", "mountPath": "/data"}, {"name": "state", "mountPath": "/config"}],
    }
    volumes = [{"name": "config", "configMap": {"name": GATEWAY_CONFIG}},
               {"name": "data", "emptyDir": {}}, {"name": "state", "emptyDir": {}}]
    # a new route table rolls the gateway's pods
    annotations = {"invora.dev/caddy-config-sha256": digest}
    return [
        config,
        deployment("gateway", "gateway", [container], volumes, annotations, grace_seconds=10),
        kube_service("gateway", "gateway", GATEWAY_PORT),
        disruption_budget("gateway", "gateway"),
        autoscaler("gateway", "gateway"),
    ]


# -- files -------------------------------------------------------------------------------------


HEADER = """\
# Generated by `invora deploy render` from shared/invora/deploy/kubernetes.py: edit that, not this.
"""


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(documents: Iterable[dict[str, Any]]) -> str:
    return HEADER + yaml.dump_all(list(documents), Dumper=_Dumper, sort_keys=False, width=120,
                                  explicit_start=True)


def manifest_files(table: RouteTable | None = None) -> dict[str, str]:
    """File name (under deploy/kubernetes/) → YAML text."""
    files = {
        "00-config.yaml": dump([config_map()]),
        # not applied with the folder (kubectl apply -f is not recursive): real values never sit in git
        "secrets/secrets.example.yaml": dump(secrets()),
        "10-migrate-job.yaml": dump([migrate_job()]),
    }
    for index, (service, port) in enumerate(service_ports().items()):
        files[f"{20 + index}-{service}.yaml"] = dump(service_manifests(service, port))
    files["30-gateway.yaml"] = dump(gateway_manifests(container_gateway_json(table)))
    return files
