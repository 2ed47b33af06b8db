"""Billing documents (PDF): what invoicing (invoices, credit notes) and payments (receipts) share.

- `money.py`: amounts from integer minor units, formatted exactly by the currency's exponent (`1,234.56 EUR`,
  `1,235 JPY`, `1.235 KWD`); units, unit prices and rates as exact decimals.
- `layout.py`: `DocumentWriter`, the page layout over fpdf2 (title and number, issuer and customer blocks,
  facts, line tables, totals, notes) with the bundled Unicode fonts (`fonts/`, DejaVu Sans: Latin, Greek,
  Cyrillic, Armenian, Georgian, Hebrew); `address_party` builds a party from Lago's address fields.
- `links.py`: public, unguessable, expiring links to a stored document (HMAC-SHA256 of kind, id and expiry
  with a server secret); `configure` / `current` hold the process's links.
- `settings.py`: `DocumentSettings`, what a service serving documents adds to its settings (`PUBLIC_URL`,
  `DOCUMENTS_SIGNING_KEY`, `DOCUMENTS_LINK_TTL_SECONDS`, `DOCUMENTS_GENERATE`).

Each service keeps its documents in its own database (a `documents` table) and renders its own kinds; this
package reads no service's tables.
"""
