"""A wallet transaction row as Lago's `WalletTransactionObject`."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from invora.events.contracts.wallets import TransactionMetadata, WalletTransaction
from wallets.ledger.format import amount_text, credits_text


def render(row: RowMapping, currency: str) -> WalletTransaction:
    is_block = row["is_block"]
    return WalletTransaction(
        lago_id=row["id"], lago_wallet_id=row["wallet_id"], lago_invoice_id=row["lago_invoice_id"],
        lago_voided_invoice_id=row["lago_voided_invoice_id"], status=row["status"], source=row["source"],
        transaction_status=row["transaction_status"], transaction_type=row["transaction_type"],
        amount=amount_text(row["amount_cents"], currency), amount_cents=row["amount_cents"],
        credit_amount=credits_text(row["credit_amount"]),
        remaining_amount_cents=row["remaining_cents"] if is_block else None,
        remaining_credit_amount=credits_text(row["remaining_credits"]) if is_block else None,
        priority=row["priority"], category=row["category"], expiration_at=row["expiration_at"],
        voided_at=row["voided_at"], void_reason=row["void_reason"], description=row["description"],
        invoice_requires_successful_payment=row["invoice_requires_successful_payment"],
        settled_at=row["settled_at"], failed_at=row["failed_at"], created_at=row["created_at"],
        metadata=[TransactionMetadata.model_validate(m) for m in row["metadata"]], name=row["name"],
        purchase_order_number=row["purchase_order_number"],
    )
