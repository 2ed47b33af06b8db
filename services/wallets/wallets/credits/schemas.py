"""The customer's credits: the operations console's manual credit, the credit view and the balance history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from invora.events.contracts.wallets import WalletTransaction
from invora.web.fields import Code, Currency, PositiveCents, Reason, Timestamp
from invora.web.inputs import InputModel


class ManualCreditInput(InputModel):
    amount_cents: PositiveCents
    currency: Currency
    reason: Reason
    expiration_at: Timestamp | None = None
    wallet_code: Code | None = Field(None, description="The wallet to credit; by default the customer's first "
                                                       "active wallet in the currency (one is created if none).")


class UsageCreditsInput(InputModel):
    amount_cents: PositiveCents
    currency: Currency
    payment_method_id: Code = Field(description="The saved payment method to charge.")
    wallet_code: Code | None = Field(None, description="The wallet to credit; by default the customer's first "
                                                       "active wallet in the currency.")


class UsageCreditsBody(BaseModel):
    usage_credits: UsageCreditsInput


class ManualCreditBody(BaseModel):
    credit: ManualCreditInput


class ManualCreditResponse(BaseModel):
    wallet_transaction: WalletTransaction
    lago_audit_id: str


class CurrencyCredits(BaseModel):
    currency: str
    available_amount_cents: int = Field(description="Credits ready to use (settled, not expired).")
    pending_amount_cents: int = Field(description="Credits applied to invoices not paid yet.")
    expiring_amount_cents: int = Field(description="Available credits that expire within 30 days.")
    next_expiration_at: datetime | None = None


class CreditsView(BaseModel):
    external_customer_id: str
    credits: list[CurrencyCredits]


class HistoryEntry(BaseModel):
    lago_id: str
    lago_wallet_id: str
    description: str
    created_at: datetime
    currency: str
    amount_cents: int = Field(description="Signed: credits in are positive, debits negative.")
    credit_amount: str = Field(description="Signed credits.")
    transaction_type: str
    transaction_status: str


class HistoryMeta(BaseModel):
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")


class HistoryPage(BaseModel):
    balance_history: list[HistoryEntry]
    meta: HistoryMeta
