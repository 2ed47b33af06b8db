# Entry points for people and CI. Needs Python 3.11+ and make; uv is installed from PyPI when missing.
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# extra options for `make run`, e.g. DEV_ARGS="--base-port 9101"
DEV_ARGS ?=
# pytest-xdist workers for `make test` (each starts its own PostgreSQL and broker; a test file stays on one
# worker); TEST_WORKERS=0 runs everything in this process
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help ensure-uv sync run test bench lint migrate deploy-files

help:
	@echo "make run      PostgreSQL, Kafka and the six services on this machine (invora dev)"
	@echo "make test     every test suite (shared, services, suite-level)"
	@echo "make bench    every benchmark in bench/, each printing JSON"
	@echo "make lint     ruff"
	@echo "make migrate  upgrade service databases (see docs/cli.md)"
	@echo "make deploy-files  regenerate deploy/gateway/caddy.json and deploy/kubernetes/ (after a route changes)"

# --frozen installs the lock file as it is; should that fail (e.g. the lock lacks a new member),
# resolve again. --inexact leaves tools a developer added to .venv alone.
ensure-uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user uv

sync: ensure-uv
	$(UV) sync --all-packages --inexact --frozen || $(UV) sync --all-packages --inexact

run: sync
	$(UV) run invora dev $(DEV_ARGS)

test: sync
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile

bench: sync
	@set -e; for script in bench/[!_]*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; \
		$(UV) run python "$$script"; \
	done

lint: sync
	$(UV) run ruff check .

migrate: sync
	$(UV) run invora migrate

deploy-files: sync
	$(UV) run invora deploy render
