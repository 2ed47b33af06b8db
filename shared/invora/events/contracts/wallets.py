"""Events the wallets service publishes, and the objects they carry (the API's own shapes).

- `wallet.created|updated|terminated`: `WalletEvent` (`{"wallet": Wallet}`);
- `wallet.depleted_ongoing_balance`: `WalletEvent` (the ongoing balance reached zero or less);
- `wallet.auto_recharge_limit_reached`: `AutoRechargeLimitReached` (the daily cap of auto recharges);
- `wallet_transaction.created|updated|payment_failure`: `WalletTransactionEvent`;
- `wallet_transaction.payment_requested`: `TopUpPaymentRequested` (internal: payments charges the top-up);
- `wallet.paid_credits_invoice_requested`: `PaidCreditsInvoiceRequested` (internal, wallets → invoicing): paid
  credits granted at once (the wallet does not require a successful payment) are invoiced (Lago's `credit`
  invoice), which payments then charges; topic `invora.wallet`, key the wallet's `lago_id`;
- `credits.granted`: `CreditsGranted` (granted or purchased credits reached a wallet's balance);
- `credits.balance_depleted`: `CreditsBalanceDepleted` (a wallet's balance reached zero);
- `credits.applied`: `PrepaidCreditsApplied`, wallets' answer to `invoice.prepaid_credits_requested`;
- `credits.released`: `PrepaidCreditsReleased`, the answer to `invoice.prepaid_credits_release_requested`;
- `wallet.unit_credit_created|voided|expired`: `UnitCreditEvent` (internal, wallets → invoicing): a customer's
  unit-credit grant (seed 002) came, was voided or expired; invoicing's projection of who holds unit grants
  (topic `invora.wallet`, key the grant's `lago_id`, so one grant's events stay in order);
- `alert.triggered`: `WalletAlertTriggered` (`{"triggered_alert": TriggeredWalletAlert}`, Lago's webhook object):
  a wallet alert's evaluation crossed thresholds (topic `invora.alert`, key the alert's `lago_id`).

Topics `invora.wallet`, `invora.wallet_transaction`, `invora.credits`. The saga answers are keyed
by the invoice's `lago_id` (`aggregate_type` `credits`), so one invoice's answers stay in order;
the others by the wallet's (or transaction's) `lago_id`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

WalletStatus = Literal["active", "terminated"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AppliesTo(_Object):
    fee_types: list[str] = Field(default_factory=list)
    billable_metric_codes: list[str] = Field(default_factory=list)


class TransactionMetadata(_Object):
    key: str
    value: str


class RecurringTransactionRule(_Object):
    lago_id: uuid.UUID
    trigger: Literal["interval", "threshold"]
    method: Literal["fixed", "target"]
    interval: str | None = None
    status: Literal["active", "terminated"] = "active"
    threshold_credits: str | None = None
    paid_credits: str | None = None
    granted_credits: str | None = None
    grants_target_top_up: bool | None = None
    started_at: datetime | None = None
    target_ongoing_balance: str | None = None
    expiration_at: datetime | None = None
    invoice_requires_successful_payment: bool = False
    transaction_metadata: list[TransactionMetadata] = Field(default_factory=list)
    transaction_name: str | None = None
    ignore_paid_top_up_limits: bool = False
    created_at: datetime


class Wallet(_Object):
    """Lago's `WalletObject`. Credits are decimal strings (5 decimals); money is integer cents."""

    lago_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    status: WalletStatus
    currency: str
    name: str | None = None
    code: str
    priority: int
    rate_amount: str
    credits_balance: str
    balance_cents: int
    consumed_credits: str
    consumed_amount_cents: int
    created_at: datetime
    expiration_at: datetime | None = None
    last_balance_sync_at: datetime | None = None
    last_consumed_credit_at: datetime | None = None
    terminated_at: datetime | None = None
    invoice_requires_successful_payment: bool
    applies_to: AppliesTo
    recurring_transaction_rules: list[RecurringTransactionRule] = Field(default_factory=list)
    ongoing_balance_cents: int
    ongoing_usage_balance_cents: int
    credits_ongoing_balance: str
    credits_ongoing_usage_balance: str
    paid_top_up_min_amount_cents: int | None = None
    paid_top_up_max_amount_cents: int | None = None
    metadata: dict[str, str | None] | None = None
    billing_entity_code: str | None = None
    purchase_order_number: str | None = None
    applied_invoice_custom_sections: list[dict[str, str]] = Field(default_factory=list)
    payment_method: dict[str, str | None] | None = None


TransactionStatus = Literal["purchased", "granted", "voided", "invoiced"]


class WalletTransaction(_Object):
    """Lago's `WalletTransactionObject`, with the grant's terms (priority, category, expiry, reason)."""

    lago_id: uuid.UUID
    lago_wallet_id: uuid.UUID
    lago_invoice_id: uuid.UUID | None = None
    lago_credit_note_id: uuid.UUID | None = None
    lago_voided_invoice_id: uuid.UUID | None = None
    status: Literal["pending", "settled", "failed"]
    source: Literal["manual", "interval", "threshold", "invoice", "expiration", "console"]
    transaction_status: TransactionStatus
    transaction_type: Literal["inbound", "outbound"]
    amount: str
    amount_cents: int
    credit_amount: str
    remaining_amount_cents: int | None = None
    remaining_credit_amount: str | None = None
    priority: int
    category: Literal["granted", "purchased"] | None = Field(
        None, description="Inbound credit blocks only: how the credits came (consumed granted-first on a tie).")
    expiration_at: datetime | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None
    description: str = Field(description="The balance history's human description of this movement.")
    invoice_requires_successful_payment: bool = False
    settled_at: datetime | None = None
    failed_at: datetime | None = None
    created_at: datetime
    metadata: list[TransactionMetadata] = Field(default_factory=list)
    name: str | None = None
    purchase_order_number: str | None = None
    payment_method: dict[str, str | None] | None = None
    applied_invoice_custom_sections: list[dict[str, str]] = Field(default_factory=list)


class TopUpPaymentRequested(_Object):
    """`wallet_transaction.payment_requested` (internal, wallets → payments): charge a pending purchase.

    Published in the transaction that records the `pending` purchase (a paid top-up that requires a
    successful payment, "add usage credits", a paid auto recharge or recurring top-up). Payments
    charges it once per `lago_wallet_transaction_id` and answers `wallet_topup_payment.succeeded|failed`.
    """

    lago_wallet_transaction_id: uuid.UUID
    lago_wallet_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    amount_cents: int = Field(gt=0)
    currency: str
    payment_method_id: str | None = Field(
        None, description="The payment method to charge (payments' `lago_id` or the provider's id); "
                          "None: the customer's default at its provider.")
    description: str
    manual: bool = Field(False, description="Lago's `payment_method_type: manual`: not charged off-session; the "
                                            "customer pays on the provider's page (payments' `POST "
                                            "/wallet_transactions/{lago_id}/payment_url`).")


class WalletEvent(_Object):
    wallet: Wallet


class WalletTransactionEvent(_Object):
    wallet_transaction: WalletTransaction


class CreditsGranted(_Object):
    """`credits.granted`: credits reached a wallet's balance (a grant, a settled purchase, a manual credit)."""

    external_customer_id: str
    lago_wallet_id: uuid.UUID
    wallet_transaction: WalletTransaction


class CreditsBalanceDepleted(_Object):
    """`credits.balance_depleted`: a wallet's balance went from above zero to zero."""

    external_customer_id: str
    wallet: Wallet


class AutoRechargeLimitReached(_Object):
    """`wallet.auto_recharge_limit_reached`: a wallet made its last auto recharge allowed in 24 hours."""

    wallet: Wallet
    recharges_today: int
    limit: int


class AppliedLine(_Object):
    """What the credits paid of one requested line (same order as the request's `lines`)."""

    lago_fee_id: uuid.UUID | None = None
    fee_type: str
    billable_metric_code: str | None = None
    requested_amount_cents: int
    applied_amount_cents: int


class AppliedWalletTransaction(_Object):
    lago_wallet_id: uuid.UUID
    lago_wallet_transaction_id: uuid.UUID
    amount_cents: int
    credit_amount: str


class PrepaidCreditsApplied(_Object):
    """`credits.applied`: what wallets applied to the invoice (0 when nothing applies). Same answer every time."""

    lago_invoice_id: uuid.UUID
    external_customer_id: str
    currency: str
    requested_amount_cents: int
    applied_amount_cents: int
    lines: list[AppliedLine]
    wallet_transactions: list[AppliedWalletTransaction]
    status: Literal["applied", "released"] = Field(
        description="`released`: the invoice was released (voided) before or since; nothing stays applied.")


class PrepaidCreditsReleased(_Object):
    """`credits.released`: credits applied to the invoice went back to their wallets (or nothing was applied)."""

    lago_invoice_id: uuid.UUID
    external_customer_id: str | None = None
    released_amount_cents: int
    lost_amount_cents: int = Field(0, description="Credits whose grant expired or was voided since: not restored.")
    wallet_transactions: list[AppliedWalletTransaction]


class AlertThreshold(_Object):
    code: str | None = None
    value: str
    recurring: bool = False


class TriggeredWalletAlert(_Object):
    """Lago's `TriggeredAlertObject` for a wallet alert: values are decimal strings (cents for the
    `*_amount` types, credits for the `*_credits_*` ones); a recurring threshold appears once per point."""

    lago_id: uuid.UUID = Field(description="This triggering's id.")
    lago_organization_id: uuid.UUID
    lago_alert_id: uuid.UUID
    lago_wallet_id: uuid.UUID
    wallet_code: str
    lago_subscription_id: None = None
    external_subscription_id: None = None
    external_customer_id: str
    billable_metric_code: None = None
    alert_type: Literal["wallet_balance_amount", "wallet_credits_balance", "wallet_ongoing_balance_amount",
                        "wallet_credits_ongoing_balance"]
    alert_code: str
    alert_name: str | None = None
    direction: Literal["decreasing"] = "decreasing"
    previous_value: str
    current_value: str
    crossed_thresholds: list[AlertThreshold]
    triggered_at: datetime


class WalletAlertTriggered(_Object):
    triggered_alert: TriggeredWalletAlert


class UnitCredit(_Object):
    """A unit-credit grant (wallets' `unit_credit` object): units of one billable metric for one customer."""

    lago_id: uuid.UUID
    lago_customer_id: uuid.UUID
    external_customer_id: str
    billable_metric_code: str
    units: str
    remaining_units: str
    status: Literal["active", "voided", "expired"]
    expiration_at: datetime | None = None


class UnitCreditEvent(_Object):
    unit_credit: UnitCredit


UNIT_CREDIT_EVENTS = ("wallet.unit_credit_created", "wallet.unit_credit_voided", "wallet.unit_credit_expired")

class PaidCreditsInvoiceRequested(_Object):
    """`wallet.paid_credits_invoice_requested` (internal, wallets → invoicing): invoice a paid top-up whose credits
    were granted at once (`invoice_requires_successful_payment` false). Published in the transaction that
    settles the purchase; invoicing makes one `credit` invoice per `lago_wallet_transaction_id`."""

    lago_wallet_transaction_id: uuid.UUID
    lago_wallet_id: uuid.UUID
    wallet_name: str | None = None
    lago_customer_id: uuid.UUID
    external_customer_id: str
    amount_cents: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    credit_amount: Decimal = Field(gt=0)
    rate_amount: Decimal = Field(gt=0)
    purchase_order_number: str | None = None
    created_at: datetime


PAID_CREDITS_INVOICE_REQUESTED = "wallet.paid_credits_invoice_requested"

EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    **{f"wallet.{verb}": WalletEvent for verb in ("created", "updated", "terminated", "depleted_ongoing_balance")},
    **{f"wallet_transaction.{verb}": WalletTransactionEvent for verb in ("created", "updated", "payment_failure")},
    "wallet.auto_recharge_limit_reached": AutoRechargeLimitReached,
    "wallet_transaction.payment_requested": TopUpPaymentRequested,
    PAID_CREDITS_INVOICE_REQUESTED: PaidCreditsInvoiceRequested,
    "credits.granted": CreditsGranted,
    "credits.balance_depleted": CreditsBalanceDepleted,
    "credits.applied": PrepaidCreditsApplied,
    "credits.released": PrepaidCreditsReleased,
    "alert.triggered": WalletAlertTriggered,
    **{event_type: UnitCreditEvent for event_type in UNIT_CREDIT_EVENTS},
}

CREDITS_DECIMALS = 5
CREDITS_STEP = Decimal(1).scaleb(-CREDITS_DECIMALS)
