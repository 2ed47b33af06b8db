"""Deployment files generated from the code: the gateway's Caddy configuration
(`deploy/gateway/caddy.json`, used by docker compose) and the Kubernetes manifests
(`deploy/kubernetes/`). `invora deploy render` writes them; a test fails when a committed file
differs from what the code generates."""
