"""Every ORM model of the wallets service, imported so Alembic sees the whole schema."""

from wallets.alerts.models import WalletAlert
from wallets.applications.models import CreditApplication
from wallets.credits.models import ManualCreditAudit
from wallets.customers.models import Customer
from wallets.db import PLATFORM_MODELS
from wallets.ledger.models import LedgerEntry
from wallets.transactions.models import WalletTransaction
from wallets.transactions.recurring_models import RecurringRun
from wallets.unit_credits.models import UnitCreditApplication, UnitCreditEntry, UnitCreditGrant
from wallets.wallets.models import Wallet

__all__ = ["PLATFORM_MODELS", "Customer", "Wallet", "WalletTransaction", "LedgerEntry", "CreditApplication",
           "ManualCreditAudit", "RecurringRun", "WalletAlert",
           "UnitCreditGrant", "UnitCreditEntry", "UnitCreditApplication"]
