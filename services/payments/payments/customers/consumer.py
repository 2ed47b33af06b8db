"""The `customer.*` consumer (`invora.customer_projection`): one transaction per event with its inbox row."""

from __future__ import annotations

from invora.bus.consumer import ConsumerSpec
from invora.customer_projection.service import customers_consumer as projection_consumer
from payments.customers.service import provider_columns


def customers_consumer() -> ConsumerSpec:
    return projection_consumer(extra=provider_columns)
