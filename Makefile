# Entry points for people and CI. Only needs `uv` on PATH (or UV="python3 -m uv").
UV ?= uv

.DEFAULT_GOAL := help
.PHONY: help sync run test bench lint migrate

help:
	@echo "make run      PostgreSQL, Kafka and the six services on this machine (invora dev)"
	@echo "make test     every test suite (shared, services, suite-level)"
	@echo "make bench    every benchmark in bench/, each printing JSON"
	@echo "make lint     ruff"
	@echo "make migrate  upgrade service databases (see docs/cli.md)"

# --frozen installs the lock file as it is; should that fail (e.g. the lock lacks a new member),
# resolve again. --inexact leaves tools a developer added to .venv alone.
sync:
	$(UV) sync --all-packages --inexact --frozen || $(UV) sync --all-packages --inexact

run:
	$(UV) run invora dev

test: sync
	$(UV) run pytest

bench: sync
	@set -e; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; \
		$(UV) run python "$$script"; \
	done

lint:
	$(UV) run ruff check .

migrate:
	$(UV) run invora migrate
