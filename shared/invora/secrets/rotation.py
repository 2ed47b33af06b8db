"""Re-encrypt every stored secret of a database under the key ring's current key.

Online: small batches, each its own short transaction, and every row is rewritten only if it still
holds the value read (compare-and-set), so a secret the API changed meanwhile is left as the API
wrote it. Idempotent and resumable: the progress is the data itself (a value already under the
current key is skipped), so a run that stops half-way is finished by the next one. Values still in
plain text (written before encryption existed) are encrypted on the way.

The columns are found from the database: every column commented `invora:encrypted` (see
`invora.secrets.column`), keyed by its table's primary key.

Old keys must stay in the ring of every running service until a run reports nothing left: a value
re-encrypted here under the new key can then be read everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from invora.secrets import ENCRYPTED_COMMENT, KeyRing, is_encrypted
from invora.secrets.column import context_of

_ENCRYPTED_COLUMNS = """
    SELECT c.relname AS table_name, a.attname AS column_name,
           (SELECT array_agg(k.attname ORDER BY k.attnum) FROM pg_index i
              JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = ANY(i.indkey)
             WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key
    FROM pg_description d
    JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
    WHERE d.description = $1 AND c.relkind = 'r'
    ORDER BY 1, 2
"""


@dataclass
class ColumnReport:
    table: str
    column: str
    rewritten: int = 0
    remaining: int = 0  # values still not under the current key after the run (changed meanwhile)


@dataclass
class RotationReport:
    columns: list[ColumnReport] = field(default_factory=list)

    @property
    def rewritten(self) -> int:
        return sum(c.rewritten for c in self.columns)

    @property
    def remaining(self) -> int:
        return sum(c.remaining for c in self.columns)


async def encrypted_columns(conn: asyncpg.Connection) -> list[tuple[str, str, list[str]]]:
    rows = await conn.fetch(_ENCRYPTED_COLUMNS, ENCRYPTED_COMMENT)
    columns = []
    for row in rows:
        if not row["primary_key"]:
            raise RuntimeError(f"{row['table_name']} holds encrypted values but has no primary key")
        columns.append((row["table_name"], row["column_name"], list(row["primary_key"])))
    return columns


async def rotate_database(dsn: str, ring: KeyRing, *, batch_size: int = 200,
                          max_batches: int | None = None) -> RotationReport:
    """`max_batches` stops early (per column): what a run interrupted part-way leaves behind."""
    report = RotationReport()
    conn = await asyncpg.connect(dsn)
    try:
        for table, column, primary_key in await encrypted_columns(conn):
            report.columns.append(
                await _rotate_column(conn, ring, table, column, primary_key, batch_size, max_batches))
    finally:
        await conn.close()
    return report


async def _rotate_column(conn: asyncpg.Connection, ring: KeyRing, table: str, column: str, primary_key: list[str],
                         batch_size: int, max_batches: int | None) -> ColumnReport:
    report = ColumnReport(table, column)
    context = context_of(table, column)
    current_prefix = f"enc:v1:{ring.current_id}:"
    t, c = _ident(table), _ident(column)
    n = len(primary_key)
    keys = ", ".join(_ident(k) for k in primary_key)
    key_params = ", ".join(f"${i + 1}" for i in range(n))  # $1..$n: a primary key value

    def pending(prefix_param: int) -> str:
        return f"{c} IS NOT NULL AND NOT starts_with({c}, ${prefix_param})"

    first_page = f"SELECT {keys}, {c} AS value FROM {t} WHERE {pending(1)} ORDER BY {keys} LIMIT $2"
    next_page = (f"SELECT {keys}, {c} AS value FROM {t} WHERE ({keys}) > ({key_params}) AND {pending(n + 1)} "
                 f"ORDER BY {keys} LIMIT ${n + 2}")
    # compare-and-set: a value changed since it was read (by the API) is not overwritten
    update = f"UPDATE {t} SET {c} = ${n + 1} WHERE ({keys}) = ({key_params}) AND {c} = ${n + 2}"
    last: list | None = None
    batches = 0
    while max_batches is None or batches < max_batches:
        if last is None:
            rows = await conn.fetch(first_page, current_prefix, batch_size)
        else:
            rows = await conn.fetch(next_page, *last, current_prefix, batch_size)
        if not rows:
            break
        async with conn.transaction():
            for row in rows:
                value = row["value"]
                plaintext = ring.decrypt(value, context) if is_encrypted(value) else value
                status = await conn.execute(update, *[row[k] for k in primary_key],
                                            ring.encrypt(plaintext, context), value)
                report.rewritten += int(status.split()[-1])
        last = [rows[-1][k] for k in primary_key]
        batches += 1
    report.remaining = await conn.fetchval(f"SELECT count(*) FROM {t} WHERE {pending(1)}", current_prefix)
    return report


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
