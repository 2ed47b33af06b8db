"""`secret_column`: an ORM column whose value is encrypted on the way into the database and decrypted on
the way out, so the service code only ever sees plaintext and the table only ever holds ciphertext."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

from invora import secrets

# every encrypted column the process's models declare: a service with any refuses to start without a key
DECLARED: set[str] = set()


class EncryptedText(TypeDecorator[str]):
    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context  # `table.column`: the associated data the value is sealed with
        DECLARED.add(context)

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else secrets.encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else secrets.decrypt(value, self.context)


def context_of(table: str, column: str) -> str:
    return f"{table}.{column}"


def secret_column(table: str, column: str, *, nullable: bool) -> MappedColumn[Any]:
    """The column `column` of `table`, encrypted at rest; commented so `invora secrets rotate` finds it.

    Never compare it in SQL (`WHERE secret = ...`): each encryption of a value differs.
    """
    return mapped_column(column, EncryptedText(context_of(table, column)), nullable=nullable,
                         comment=secrets.ENCRYPTED_COMMENT)
