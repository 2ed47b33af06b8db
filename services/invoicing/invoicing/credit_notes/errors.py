"""Credit notes' named errors."""

from __future__ import annotations

from invora.errors import MethodNotAllowed, NotFound


class CreditNoteNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("credit_note")


class InvoiceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("invoice")


class FeeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("fee")


class InvoiceNotCreditable(MethodNotAllowed):
    """Only a finalized invoice takes credit notes (Lago: `invalid_type_or_status`)."""

    code = "invalid_type_or_status"


class CreditNoteAlreadyVoided(MethodNotAllowed):
    code = "credit_note_already_voided"
