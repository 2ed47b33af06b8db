"""The invora pytest plugin (registered through the `pytest11` entry point as `invora`).

Fixtures:
- `invora_postgres` / `invora_kafka`: session-scoped PostgreSQL admin DSN and Kafka bootstrap
  servers: embedded ones, or `DATABASE_URL` / `KAFKA_BOOTSTRAP_SERVERS` when set;
- `invora_keys`: a key pair; `make_api_key(org, roles, customer=...)` signs keys with it;
- `migrated_database(service)`: a fresh, migrated database for a service;
- `start_service(service, **settings)`: the service app with its lifespan running, and
  `.client(org=..., roles=[...])` giving an httpx client with a signed key;
- `wait_for_event(topic, predicate)`: reads a topic until an event matches;
- `webhook_receiver`: a local HTTP server recording what it receives.
"""
