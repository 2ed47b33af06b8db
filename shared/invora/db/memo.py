"""Reads remembered for the rest of one database transaction.

A consumer's batch handles hundreds of events in one transaction, and each event used to read the same
organization settings, taxes and customer rows again: one round trip each, many times over. `memo(session,
name)` is a dict that lives exactly as long as the session's current (root) transaction: the next
transaction — after a commit or a rollback — starts with an empty one, so nothing remembered outlives
the snapshot it was read in. Code that writes what it remembers updates or forgets the entry itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "invora.memo"


def memo(session: AsyncSession, name: str) -> dict[Any, Any]:
    """The `name` memo of the session's current transaction (empty at the start of each transaction)."""
    sync = session.sync_session
    root = sync.get_transaction()  # the root transaction: savepoints share their root's memo
    if root is None:  # what the next statement would begin anyway (no I/O until then)
        root = sync.begin()
    held = sync.info.get(_KEY)
    if held is None or held[0] is not root:
        held = (root, {})
        sync.info[_KEY] = held
    return held[1].setdefault(name, {})
