"""The worker's SQL: claim due deliveries (`FOR UPDATE SKIP LOCKED`, safe across replicas), record outcomes.

Claiming bumps `attempt_count`, stamps a `claim_token` and pushes `next_attempt_at` a lease
ahead, then commits before anything is sent: a worker that dies mid-attempt leaves a row
that is due again when the lease runs out (at-least-once; receivers de-duplicate on
`webhook-id` / `X-Lago-Unique-Key`). A failure is only recorded by the claim that made it
(the token matches), and a success is final: a succeeded row is never claimed again.

The search for due rows reads the due index in `next_attempt_at` order from `since` (see
`scan_floor.py`), so the backlog of an endpoint at its cap, which it cannot take anyway, is
not read again on every claim; an endpoint that has slots again gets its rows below `since`
from the per-endpoint due index (`catch_up`), `allowance` at most.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.deliveries.models import FAILED, RETRYING, SUCCEEDED
from notifications.delivery_worker.jobs import AttemptOutcome, ClaimedDelivery
from notifications.endpoints.models import WebhookEndpoint, live_secrets

_CLAIM_PASSES = 4
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)  # `since` of a search from the oldest due row
_CANDIDATES = text(
    """
    SELECT d.id, d.endpoint_id, e.rate_limit_per_second, d.next_attempt_at
    FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at >= :since AND d.next_attempt_at <= :now
      AND d.endpoint_id <> ALL(CAST(:blocked AS uuid[])) AND d.id <> ALL(CAST(:in_flight AS uuid[]))
    ORDER BY d.next_attempt_at
    LIMIT :limit
    FOR UPDATE OF d SKIP LOCKED
    """
)
# the oldest due rows below `since` of a few endpoints, each through ix_webhook_deliveries_endpoint_due. The
# endpoint is bounded by a range of (endpoint_id, next_attempt_at) rows, not `endpoint_id = ...`: with the
# equality the planner may walk ix_webhook_deliveries_due in time order instead (LIMIT looks cheap) and read
# a hanging endpoint's whole older backlog to find this endpoint's few rows (150,000 rows, 35 ms, per claim)
_CATCH_UP = text(
    """
    SELECT d.id, d.endpoint_id, e.rate_limit_per_second
    FROM unnest(CAST(:endpoints AS uuid[])) AS c(endpoint_id)
    CROSS JOIN LATERAL (
        SELECT w.id, w.endpoint_id, w.next_attempt_at FROM webhook_deliveries w
        WHERE (w.endpoint_id, w.next_attempt_at) >= (c.endpoint_id, CAST(:beginning AS timestamptz))
          AND (w.endpoint_id, w.next_attempt_at) < (c.endpoint_id, CAST(:since AS timestamptz))
          AND w.status IN ('pending', 'retrying') AND w.id <> ALL(CAST(:in_flight AS uuid[]))
        ORDER BY w.endpoint_id, w.next_attempt_at
        LIMIT :per_endpoint
        FOR UPDATE SKIP LOCKED
    ) d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    ORDER BY d.next_attempt_at
    """
)
_CLAIM = text(
    """
    UPDATE webhook_deliveries d
    SET attempt_count = d.attempt_count + 1, next_attempt_at = :lease_until, claim_token = :token, updated_at = :now
    FROM webhook_endpoints e, webhook_messages m
    WHERE d.id = ANY(CAST(:ids AS uuid[])) AND e.id = d.endpoint_id AND m.id = d.message_id
    RETURNING d.id, d.organization_id, d.endpoint_id, d.attempt_count, m.event_id, m.payload, m.correlation_id,
              e.webhook_url, e.signature_algo, e.secret, e.previous_secret, e.previous_secret_expires_at,
              e.rate_limit_per_second
    """
)
# the delivery may be gone (its endpoint deleted meanwhile): then there is nothing to record
_INSERT_ATTEMPT = text(
    """
    INSERT INTO webhook_attempts (id, organization_id, delivery_id, attempt_number, url, attempted_at, duration_ms,
                                  status_code, response_body, error_class, error_message, next_attempt_at)
    SELECT :id, :organization_id, :delivery_id, :attempt_number, :url, :attempted_at, :duration_ms,
           :status_code, :response_body, :error_class, :error_message, :next_attempt_at
    WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = :delivery_id)
    """
)
_SUCCEEDED = text(
    f"""
    UPDATE webhook_deliveries
    SET status = '{SUCCEEDED}', succeeded_at = :finished_at, last_attempt_at = :attempted_at,
        last_status_code = :status_code, last_error_class = NULL, next_attempt_at = NULL, claim_token = NULL,
        updated_at = :finished_at
    WHERE id = :delivery_id
    """
)
# no automatic retry for a disabled endpoint (an explicit retry or test of one gets its single attempt)
_FAILED = text(
    """
    UPDATE webhook_deliveries d
    SET status = CASE WHEN e.enabled THEN :status ELSE 'failed' END,
        next_attempt_at = CASE WHEN e.enabled THEN CAST(:next_attempt_at AS timestamptz) END,
        last_attempt_at = :attempted_at, last_status_code = :status_code, last_error_class = :error_class,
        claim_token = NULL, updated_at = :finished_at
    FROM webhook_endpoints e
    WHERE d.id = :delivery_id AND d.claim_token = :claim_token AND d.status IN ('pending', 'retrying')
      AND e.id = d.endpoint_id
    """
)
_ENDPOINTS_RECOVERED = text(
    "UPDATE webhook_endpoints SET failing_since = NULL "
    "WHERE id = ANY(CAST(:ids AS uuid[])) AND failing_since IS NOT NULL"
)
_ENDPOINT_FAILING = text(
    "UPDATE webhook_endpoints SET failing_since = :since WHERE id = :endpoint_id AND failing_since IS NULL"
)
_CLEANUP = text(
    """
    DELETE FROM webhook_messages WHERE id IN (
        SELECT m.id FROM webhook_messages m
        WHERE m.created_at < :cutoff AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id AND d.status IN ('pending', 'retrying'))
        LIMIT :batch)
    """
)


@dataclass
class ClaimRound:
    """What one claim found, beyond the claimed jobs: what the worker's scan floor is updated from."""

    jobs: list[ClaimedDelivery] = field(default_factory=list)
    # endpoints with more due rows than their allowance: claimed again for as their attempts finish
    capped: set[uuid.UUID] = field(default_factory=set)
    # the search read every due row from `since` to here of the endpoints it was not told to leave out
    # (or found capped): the claim's `now` when it read them all, else its last candidate's time
    searched_to: datetime | None = None
    complete: bool = False  # searched_to is the claim's `now`
    # `catch_up` endpoints left with no due row below `since`
    caught_up: set[uuid.UUID] = field(default_factory=set)


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    lease_seconds: float,
    limit: int,
    blocked: Sequence[uuid.UUID],
    in_flight: Sequence[uuid.UUID],
    allowance: Callable[[uuid.UUID, int | None], int],
    since: datetime = BEGINNING,
    catch_up: Sequence[uuid.UUID] = (),
    per_endpoint: int = 32,
) -> ClaimRound:
    """Claim up to `limit` due deliveries, at most `allowance(endpoint, rate)` per endpoint. Commits.

    Due rows are searched from `since` on, oldest first, leaving out the `blocked` endpoints;
    the `catch_up` endpoints' oldest due rows below `since` come first (`per_endpoint` at most
    each: the most any endpoint's allowance can be). When one endpoint's backlog fills the
    candidates beyond its allowance (a slow endpoint with thousands of due rows), the search
    goes on without it, so the others' fresh rows are not left for the next round. Endpoints
    that had more due than their allowance are reported as `capped`: the worker claims again
    for them as their attempts finish.
    """
    result = ClaimRound()
    excluded = set(blocked)
    chosen: list[uuid.UUID] = []
    taken: dict[uuid.UUID, int] = {}
    budget: dict[uuid.UUID, int] = {}

    def take(delivery_id: uuid.UUID, endpoint_id: uuid.UUID, rate: int | None) -> bool:
        if endpoint_id not in budget:
            budget[endpoint_id] = allowance(endpoint_id, rate)
        if taken.get(endpoint_id, 0) >= budget[endpoint_id]:
            return False
        taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
        chosen.append(delivery_id)
        return True

    if catch_up and limit > 0:
        rows = (
            await session.execute(
                _CATCH_UP,
                {"endpoints": list(catch_up), "beginning": BEGINNING, "since": since, "in_flight": list(in_flight),
                 "per_endpoint": per_endpoint},
            )
        ).all()
        found: dict[uuid.UUID, int] = {}
        for delivery_id, endpoint_id, rate in rows:
            found[endpoint_id] = found.get(endpoint_id, 0) + 1
            if len(chosen) >= limit or not take(delivery_id, endpoint_id, rate):
                result.capped.add(endpoint_id)
        for endpoint_id in catch_up:
            if found.get(endpoint_id, 0) >= per_endpoint:
                # as many as asked for: more may be waiting below `since`, so its finishing attempts must
                # wake the worker (that is what `capped` is for), as when a search sees more than it takes
                result.capped.add(endpoint_id)
            elif endpoint_id not in result.capped:
                result.caught_up.add(endpoint_id)  # nothing of it is left below `since`

    for _pass in range(_CLAIM_PASSES):
        wanted = limit - len(chosen)
        if wanted <= 0:
            break
        candidates = (
            await session.execute(
                _CANDIDATES,
                {"now": now, "since": since, "blocked": list(excluded), "in_flight": [*in_flight, *chosen],
                 "limit": wanted},
            )
        ).all()
        full: set[uuid.UUID] = set()
        for delivery_id, endpoint_id, rate, _due_at in candidates:
            if not take(delivery_id, endpoint_id, rate):
                full.add(endpoint_id)
        result.capped |= full
        if len(candidates) < wanted:
            result.complete, result.searched_to = True, now
            break
        result.searched_to = candidates[-1][3]  # cut short at `wanted`: rows from here on are unseen
        if not full or len(chosen) >= limit:
            break
        excluded |= full
    if not chosen:
        await session.rollback()
        return result
    token = uuid.uuid4()
    rows = (
        await session.execute(
            _CLAIM,
            {"ids": chosen, "lease_until": now + timedelta(seconds=lease_seconds), "token": token, "now": now},
        )
    ).all()
    await session.commit()
    result.jobs = [
        ClaimedDelivery(
            delivery_id=row.id, organization_id=row.organization_id, endpoint_id=row.endpoint_id,
            attempt_number=row.attempt_count, claim_token=token, event_id=row.event_id, payload=row.payload,
            correlation_id=row.correlation_id, url=row.webhook_url, signature_algo=row.signature_algo,
            secrets=tuple(live_secrets(*_opened_secrets(row), row.previous_secret_expires_at, now)),
            rate_limit_per_second=row.rate_limit_per_second,
        )
        for row in rows
    ]
    return result


def _opened_secrets(row) -> tuple[str, str | None]:
    """The endpoint's secrets in clear: raw SQL reads them as stored (encrypted, see invora.secrets)."""
    previous = row.previous_secret
    return (_SECRET.process_result_value(row.secret, None),
            _PREVIOUS_SECRET.process_result_value(previous, None) if previous else None)


_SECRET = WebhookEndpoint.__table__.c.secret.type
_PREVIOUS_SECRET = WebhookEndpoint.__table__.c.previous_secret.type


def attempt_row(outcome: AttemptOutcome, attempt_id: uuid.UUID, next_attempt_at: datetime | None) -> dict:
    job = outcome.job
    return {
        "id": attempt_id, "organization_id": job.organization_id, "delivery_id": job.delivery_id,
        "attempt_number": job.attempt_number, "url": job.url, "attempted_at": outcome.attempted_at,
        "duration_ms": outcome.duration_ms, "status_code": outcome.status_code,
        "response_body": outcome.response_body, "error_class": outcome.error_class,
        "error_message": outcome.error_message, "next_attempt_at": next_attempt_at,
    }


async def insert_attempts(session: AsyncSession, rows: list[dict]) -> None:
    if rows:
        await session.execute(_INSERT_ATTEMPT, rows)


async def mark_succeeded(session: AsyncSession, outcomes: list[AttemptOutcome]) -> None:
    if outcomes:
        await session.execute(_SUCCEEDED, [
            {"delivery_id": o.job.delivery_id, "finished_at": o.finished_at, "attempted_at": o.attempted_at,
             "status_code": o.status_code}
            for o in outcomes
        ])


async def mark_failed(session: AsyncSession, failures: list[tuple[AttemptOutcome, datetime | None]]) -> None:
    if failures:
        await session.execute(_FAILED, [
            {"delivery_id": o.job.delivery_id, "claim_token": o.job.claim_token, "next_attempt_at": next_at,
             "status": FAILED if next_at is None else RETRYING,
             "attempted_at": o.attempted_at, "status_code": o.status_code, "error_class": o.error_class,
             "finished_at": o.finished_at}
            for o, next_at in failures
        ])


async def endpoints_recovered(session: AsyncSession, endpoint_ids: list[uuid.UUID]) -> None:
    if endpoint_ids:
        await session.execute(_ENDPOINTS_RECOVERED, {"ids": endpoint_ids})


async def endpoints_failing(session: AsyncSession, first_failures: dict[uuid.UUID, datetime]) -> None:
    if first_failures:
        await session.execute(
            _ENDPOINT_FAILING, [{"endpoint_id": e, "since": t} for e, t in first_failures.items()]
        )


async def failing_too_long(session: AsyncSession, endpoint_ids: list[uuid.UUID], cutoff: datetime
                           ) -> list[WebhookEndpoint]:
    """Enabled endpoints among `endpoint_ids` failing since before `cutoff`, locked for the disable."""
    if not endpoint_ids:
        return []
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.enabled.is_(True),
               WebhookEndpoint.failing_since <= cutoff)
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars().all())


async def lock_enabled_endpoints(session: AsyncSession, endpoint_ids: list[uuid.UUID]) -> list[WebhookEndpoint]:
    if not endpoint_ids:
        return []
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.enabled.is_(True))
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars().all())


async def delete_finished_messages(session: AsyncSession, cutoff: datetime, batch: int = 1000) -> int:
    result = await session.execute(_CLEANUP, {"cutoff": cutoff, "batch": batch})
    return result.rowcount or 0


# a crashed attempt (a bug, not a failed request) waits out its back-off instead of the lease; only while
# the claim is still this attempt's (a later claim, or a recorded outcome, clears or changes the token)
_DEFER_CRASHED = text(
    """
    UPDATE webhook_deliveries SET next_attempt_at = :next_attempt_at, updated_at = :now
    WHERE id = :id AND claim_token = :token AND status IN ('pending', 'retrying')
    """
)


async def defer_crashed(session: AsyncSession, delivery_id: uuid.UUID, token: uuid.UUID,
                        next_attempt_at: datetime, now: datetime) -> None:
    await session.execute(_DEFER_CRASHED, {"id": delivery_id, "token": token, "next_attempt_at": next_attempt_at,
                                           "now": now})


async def notify_at_commit(session: AsyncSession, channel: str, due_at: datetime) -> None:
    """`pg_notify(channel, due_at)`: delivered to every listener when (and only if) the transaction commits."""
    await session.execute(text("SELECT pg_notify(:channel, :due_at)"),
                          {"channel": channel, "due_at": due_at.isoformat()})
