"""SQL of the usage reads that are not ingestion's (`usage_events/repository.py` holds those)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# active subscriptions with usage thresholds: on their plan version, or overridden on the subscription
WITH_THRESHOLDS = text("""
SELECT s.id, s.organization_id FROM subscriptions s
LEFT JOIN cached_plan_versions v ON v.organization_id = s.organization_id AND v.plan_version_id = s.plan_version_id
WHERE s.status = 'active' AND s.id > :after
  AND (jsonb_array_length(coalesce(v.body->'usage_thresholds', '[]'::jsonb)) > 0
       OR jsonb_array_length(coalesce(s.plan_overrides->'usage_thresholds', '[]'::jsonb)) > 0)
ORDER BY s.id LIMIT :limit
""")


async def subscriptions_with_thresholds(session: AsyncSession, after: uuid.UUID,
                                        limit: int) -> Sequence[Any]:
    return (await session.execute(WITH_THRESHOLDS, {"after": after, "limit": limit})).all()
