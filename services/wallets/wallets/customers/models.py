"""The customers projection: what wallets knows of the subscriptions service's customers (from `customer.*`)."""

from __future__ import annotations

from invora.customer_projection.models import CustomerProjectionColumns
from wallets.db import Base


class Customer(CustomerProjectionColumns, Base):
    """The shared base columns only (`invora.customer_projection`)."""
