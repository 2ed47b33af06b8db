"""The invoices' named errors (each carries its HTTP status and Lago-style code)."""

from __future__ import annotations

from invora.errors import Conflict, MethodNotAllowed, NotFound, ServiceUnavailable


class InvoiceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("invoice")


class FeeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("fee")


class InvoiceNotDraft(MethodNotAllowed):
    """Lago answers 405 `is_not_draft` to a finalize or refresh of an invoice that is not a draft."""

    code = "invoice_not_draft"


class InvoiceAlreadyFinalized(Conflict):
    code = "invoice_already_finalized"


class InvoiceNotVoidable(MethodNotAllowed):
    code = "invoice_not_voidable"


class InvoiceNotDisputable(MethodNotAllowed):
    """Lago answers 405 `not_disputable` when the invoice is not finalized."""

    code = "not_disputable"


class InvoiceNotFailed(MethodNotAllowed):
    code = "invoice_not_failed"


class PlanVersionUnknown(RuntimeError):  # args: (version id, organization id)
    """The plan version an event names is not in the projection yet: the event is retried (it arrives on
    another topic, so it may lag the subscription's events by a moment)."""


class CustomerUnknown(RuntimeError):
    """The customer an event names is not in the projection yet: the event is retried."""


class DependencyUnavailable(ServiceUnavailable):
    """Another service this request reads from (subscriptions, wallets) refused or did not answer: 503."""

    code = "dependency_unavailable"


class FeeAlreadyInvoiced(MethodNotAllowed):
    """Lago's: only a fee no invoice carries yet (a charge paid in advance, not invoiceable) can be deleted."""

    code = "invoiced_fee"
