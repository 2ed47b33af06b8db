"""Entry point of the invora pytest plugin: exposes every fixture of `invora.testing`."""

from invora.testing.events import wait_for_event  # noqa: F401
from invora.testing.infrastructure import (  # noqa: F401
    create_database,
    invora_kafka,
    invora_keys,
    invora_postgres,
    invora_secrets_key,
    make_api_key,
    migrated_database,
)
from invora.testing.live import live_service  # noqa: F401
from invora.testing.localstripe import localstripe  # noqa: F401
from invora.testing.receiver import webhook_receiver  # noqa: F401
from invora.testing.services import start_service  # noqa: F401
