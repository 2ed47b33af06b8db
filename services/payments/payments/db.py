"""The payments database: its declarative base and the platform tables (outbox, inbox, idempotency)."""

from __future__ import annotations

from invora.db.base import make_base
from invora.db.platform import declare_platform_models

Base = make_base()
PLATFORM_MODELS = declare_platform_models(Base)
