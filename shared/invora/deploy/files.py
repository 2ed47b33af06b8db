"""Every generated deployment file, by path from the repository root."""

from __future__ import annotations

import warnings
from pathlib import Path

from invora.db.migrate import SERVICES
from invora.deploy.gateway import container_gateway_json
from invora.deploy.kubernetes import manifest_files
from invora.gateway.routes import table_from_apps

GATEWAY_CONFIG = Path("deploy/gateway/caddy.json")
KUBERNETES_DIR = Path("deploy/kubernetes")


def generated_files() -> dict[Path, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = table_from_apps(SERVICES)
    files = {GATEWAY_CONFIG: container_gateway_json(table)}
    for name, text in manifest_files(table).items():
        files[KUBERNETES_DIR / name] = text
    return files


def stale_files(root: Path) -> list[Path]:
    """Generated files missing under `root` or differing from what the code generates, and files in
    the generated folders the generator no longer makes."""
    files = generated_files()
    stale = [path for path, text in files.items()
             if not (root / path).is_file() or (root / path).read_text() != text]
    for existing in sorted((root / KUBERNETES_DIR).rglob("*.yaml")):
        if existing.relative_to(root) not in files:
            stale.append(existing.relative_to(root))
    return stale


def write_files(root: Path) -> list[Path]:
    written = []
    for path, text in generated_files().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text() != text:
            target.write_text(text)
            written.append(path)
    return written
