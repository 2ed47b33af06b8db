"""The fan-out consumer's declaration: every topic of the suite, one transaction per fetched batch.

The guarantees are the platform consumer's (inbox rows and effects commit together, then the
offset; a failing event is retried with back-off and nothing behind it on the partition
overtakes it; an event breaking the fan-out's contract is `rejected`). It declares a batch
handler rather than a per-event one because of the cost: this service consumes every topic of
the suite, and a per-event transaction (inbox insert, endpoint lookup, inserts, commit) capped
it at about 150 events/s on a 2-core machine; per batch it is the same handful of statements
for one event or five hundred.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.envelope import EventEnvelope
from invora.events.topics import ALL_TOPICS
from notifications.activity_logs.recorder import record_activities
from notifications.api_logs.recorder import record_api_logs
from notifications.endpoints.organization_default import register_organization_webhook
from notifications.fanout.consumer import fan_out
from notifications.runtime import NotificationsRuntime


def fanout_consumer_spec(runtime: NotificationsRuntime) -> ConsumerSpec:
    """Named by `consumer_name` (Kafka group `notifications.<name>`, inbox consumer name)."""

    async def handle(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        # the activity and API logs are recorded in the same transaction as the deliveries (docs/activity-logs.md)
        now = runtime.clock.now()
        # an organization's webhook_url becomes its endpoint before the batch fans out, so the batch's later
        # events already reach it (one group for every topic: no second consumer to join before /ready)
        for event in events:
            if event.type == "organization.updated":
                await register_organization_webhook(session, event, runtime)
        await record_activities(session, events, now)
        await record_api_logs(session, events, now)
        await fan_out(session, events, runtime)

    return ConsumerSpec(name=runtime.settings.consumer_name, topics=ALL_TOPICS, batch_handler=handle)
