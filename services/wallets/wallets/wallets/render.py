"""A wallet row as Lago's `WalletObject`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping

from invora.events.contracts.wallets import AppliesTo, RecurringTransactionRule, Wallet
from wallets.ledger.arithmetic import cents_to_credits
from wallets.ledger.format import credits_text


def render(row: RowMapping) -> Wallet:
    usage_cents = row["ongoing_usage_balance_cents"]
    usage_credits = cents_to_credits(usage_cents, row["rate_amount"], row["currency"])
    return Wallet(
        lago_id=row["id"], lago_customer_id=row["customer_id"], external_customer_id=row["external_customer_id"],
        status=row["status"], currency=row["currency"], name=row["name"], code=row["code"],
        priority=row["priority"], rate_amount=format(row["rate_amount"].normalize(), "f"),
        credits_balance=credits_text(row["credits_balance"]), balance_cents=row["balance_cents"],
        consumed_credits=credits_text(row["consumed_credits"]), consumed_amount_cents=row["consumed_amount_cents"],
        created_at=row["created_at"], expiration_at=row["expiration_at"],
        last_balance_sync_at=row["last_balance_sync_at"], last_consumed_credit_at=row["last_consumed_credit_at"],
        terminated_at=row["terminated_at"],
        invoice_requires_successful_payment=row["invoice_requires_successful_payment"],
        applies_to=AppliesTo(fee_types=list(row["applies_to_fee_types"]),
                             billable_metric_codes=list(row["applies_to_metric_codes"])),
        recurring_transaction_rules=[RecurringTransactionRule.model_validate(r)
                                     for r in row["recurring_transaction_rules"]],
        ongoing_usage_balance_cents=usage_cents,
        ongoing_balance_cents=row["balance_cents"] - usage_cents,
        credits_ongoing_usage_balance=credits_text(usage_credits),
        credits_ongoing_balance=credits_text(row["credits_balance"] - usage_credits),
        paid_top_up_min_amount_cents=row["paid_top_up_min_amount_cents"],
        paid_top_up_max_amount_cents=row["paid_top_up_max_amount_cents"],
        metadata=row["metadata"], purchase_order_number=row["purchase_order_number"],
    )


def rules_to_store(rules: list, existing: list[dict], now: datetime) -> list[dict]:
    """Recurring rules as stored (JSON): a rule keeps its `lago_id` and `created_at` when it is given back."""
    kept = {r["lago_id"]: r for r in existing}
    stored = []
    for rule in rules:
        data = rule.model_dump(mode="json", exclude_none=True)
        previous = kept.get(data.get("lago_id") or "")
        data["lago_id"] = previous["lago_id"] if previous else str(uuid.uuid4())
        data["created_at"] = previous["created_at"] if previous else now.isoformat()
        data.setdefault("status", "active")
        data.setdefault("transaction_metadata", [])
        stored.append(data)
    return stored
