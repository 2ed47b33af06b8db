"""The gateway: one public origin (Caddy) in front of the six services, its routes generated from
the services' own OpenAPI documents. See docs/operations.md ("The gateway")."""
