"""The projection of the subscriptions service's customers that several services keep (`customer.*` events).

Each service owns its `customers` table (its own database, its own extra columns); this package
holds what is the same everywhere: the newer-sequence-wins upsert, the look-ups by external id
(a deleted customer frees it), the tenant-key access rule and the consumer. `repository.py` is the
SQL, `service.py` the rules.
"""
