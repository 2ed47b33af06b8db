#!/usr/bin/env bash
# Creates one database per Invora service. The postgres image runs this once, from
# /docker-entrypoint-initdb.d, when it initialises an empty data directory; to re-run it
# after adding a database, remove the volume (`docker compose down -v`) or create the
# database by hand. Each database is owned by $POSTGRES_USER; schemas come from
# `invora migrate` (the `migrate` service in docker-compose.yml).
set -euo pipefail

databases=(
  invora_catalog
  invora_subscriptions
  invora_invoicing
  invora_payments
  invora_wallets
  invora_notifications
)

for database in "${databases[@]}"; do
  echo "init-databases: ensuring database ${database}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" <<SQL
SELECT format('CREATE DATABASE %I OWNER %I', '${database}', '${POSTGRES_USER}')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${database}')\gexec
SQL
done
