"""Named domain errors of the wallets service (Lago's codes where Lago has one)."""

from __future__ import annotations

from invora.customer_projection.service import CustomerNotFound as CustomerNotFound
from invora.errors import BadRequest, Conflict, MethodNotAllowed, NotFound, ValidationFailed
from invora.web.error_docs import ApiError, response


class WalletNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("wallet")


class WalletTransactionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("wallet_transaction")


class WalletNotActive(MethodNotAllowed):
    code = "wallet_not_active"


class WalletTransactionNotVoidable(MethodNotAllowed):
    code = "wallet_transaction_not_voidable"


class InsufficientCredits(Conflict):
    code = "insufficient_credits"


class WalletCodeTaken(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(code=["value_already_exist"])


class CurrencyMismatch(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(currency=["currencies_does_not_match"])


# the OpenAPI answers these errors add to the shared ones (`invora.web.error_docs`)
CONFLICT_DOC = {409: response(ApiError, "Not enough credits for this debit (`insufficient_credits`).")}


class AlertNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("alert")


class AlertCodeTaken(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(code=["value_already_exist"])


class AlertMissing(BadRequest):
    """Lago's `params.require(:alert)`: neither `alert` nor `alerts` was sent."""

    code = "bad_request"

    def __init__(self) -> None:
        super().__init__("param is missing or the value is empty: alert")


class UnitCreditNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("unit_credit")


class UnitCreditNotVoidable(MethodNotAllowed):
    code = "unit_credit_not_voidable"
