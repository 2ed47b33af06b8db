"""Wallet transactions in Lago's shapes (`{"wallet_transactions": [...]}`), plus the grant's own terms."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from invora.events.contracts.wallets import WalletTransaction
from invora.web.fields import KeyValueList as TransactionMetadata
from invora.web.fields import Name, Reason, Timestamp
from invora.web.inputs import InputModel
from invora.web.pagination import PaginationMeta
from wallets.wallets.schemas import Credits, Priority


class PaymentMethodReference(InputModel):
    """Lago's `payment_method` of a paid top-up: `provider` (charged off-session, the named method or the customer's
    default) or `manual` (not charged: the customer pays on the provider's page, `POST
    /wallet_transactions/{lago_id}/payment_url`)."""

    payment_method_type: Literal["provider", "manual"] = "provider"
    payment_method_id: str | None = Field(None, min_length=1, max_length=255,
                                          description="The method to charge (payments' `lago_id` of a method, or the "
                                                      "provider's id); only with `provider`.")


class WalletTransactionCreateInput(InputModel):
    wallet_id: str = Field(max_length=64)
    name: Name | None = None
    paid_credits: Credits | None = None
    granted_credits: Credits | None = None
    voided_credits: Credits | None = None
    invoice_requires_successful_payment: StrictBool | None = None
    ignore_paid_top_up_limits: StrictBool | None = None
    metadata: TransactionMetadata | None = None
    purchase_order_number: Name | None = None
    payment_method: PaymentMethodReference | None = Field(
        None, description="How paid credits that require a successful payment are paid (Lago's).")
    # Invora: the terms of the credit block(s) this creates (seed 002: each grant its own expiry and priority)
    priority: Priority | None = Field(None, description="Block priority, 1 consumed first (default 50).")
    expiration_at: Timestamp | None = Field(None, description="When what is left of these credits expires.")
    reason: Reason | None = Field(None, description="Why the credits were granted; shown in the balance history.")


class WalletTransactionCreateBody(BaseModel):
    wallet_transaction: WalletTransactionCreateInput


class VoidInput(InputModel):
    reason: Reason


class VoidBody(BaseModel):
    wallet_transaction: VoidInput


class WalletTransactionsResponse(BaseModel):
    wallet_transactions: list[WalletTransaction]


class WalletTransactionResponse(BaseModel):
    wallet_transaction: WalletTransaction


class WalletTransactionsPage(BaseModel):
    wallet_transactions: list[WalletTransaction]
    meta: PaginationMeta


class ConsumptionLink(BaseModel):
    lago_id: str = Field(description="The ledger entry's id.")
    amount_cents: int
    credit_amount: str
    created_at: str
    wallet_transaction: WalletTransaction


class ConsumptionsPage(BaseModel):
    wallet_transaction_consumptions: list[ConsumptionLink]
    meta: PaginationMeta


class FundingsPage(BaseModel):
    wallet_transaction_fundings: list[ConsumptionLink]
    meta: PaginationMeta


TransactionStatusFilter = Literal["purchased", "granted", "voided", "invoiced"]
StatusFilter = Literal["pending", "settled", "failed"]
TypeFilter = Literal["inbound", "outbound"]
