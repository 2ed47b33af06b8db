"""The shared documents plumbing: money formatting by currency exponent (hypothesis), exact decimals, signed
links (tampering, expiry, kind), and the layout with non-Latin text."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from invora.documents.layout import Column, DocumentWriter, Party, address_party, render_document
from invora.documents.links import DocumentLinkExpired, DocumentLinks, DocumentNotFound
from invora.documents.money import format_decimal, format_minor, format_money, format_rate, format_unit_price
from invora.money import CURRENCIES, exponent

CURRENCY_CODES = sorted(CURRENCIES)


@given(cents=st.integers(min_value=-(10**18), max_value=10**18), currency=st.sampled_from(CURRENCY_CODES))
def test_money_reads_back_to_the_same_minor_units_with_the_currencys_decimals(cents, currency):
    text = format_money(cents, currency)
    amount, code = text.split(" ")
    assert code == currency
    places = exponent(currency)
    whole, _, fraction = amount.lstrip("-").partition(".")
    assert len(fraction) == places  # always exactly the exponent's decimals: JPY none, KWD three
    assert whole == f"{int(whole.replace(',', '')):,}"  # grouped by thousands
    assert int(Decimal(amount.replace(",", "")).scaleb(places)) == cents
    assert amount.startswith("-") == (cents < 0)


def test_money_examples_by_exponent():
    assert format_money(123_456, "EUR") == "1,234.56 EUR"
    assert format_money(1_234_567, "JPY") == "1,234,567 JPY"
    assert format_money(1_234_567, "KWD") == "1,234.567 KWD"
    assert format_money(5, "CLF") == "0.0005 CLF"
    assert format_money(-5, "USD") == "-0.05 USD"
    assert format_money(0, "BHD") == "0.000 BHD"
    assert format_minor(100, "jpy") == "100"
    with pytest.raises(TypeError):
        format_minor(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_minor(True, "EUR")  # type: ignore[arg-type]


@given(value=st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=6))
def test_decimals_are_exact(value):
    text = format_decimal(value)
    assert Decimal(text.replace(",", "")) == value


def test_unit_prices_and_rates():
    assert format_unit_price("0.0125", "EUR") == "0.0125 EUR"
    assert format_unit_price("5", "EUR") == "5.00 EUR"
    assert format_unit_price("1234.5", "JPY") == "1,234.5 JPY"
    assert format_decimal("1234.5000") == "1,234.5"
    assert format_decimal("100") == "100" and format_decimal("1E+2") == "100"
    assert format_rate(20.0) == "20 %" and format_rate(5.5) == "5.5 %" and format_rate(Decimal("19.60")) == "19.6 %"


def test_links_verify_only_what_the_key_signed_until_it_expires():
    links = DocumentLinks(key=b"s" * 32, public_url="https://billing.example.com/", ttl_seconds=3600)
    resource = uuid.uuid4()
    now = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    url = links.url("invoices", resource, now)
    assert url.startswith("https://billing.example.com/api/v1/documents/invoices/")
    token = url.rsplit("/", 1)[1]
    assert links.verify("invoices", token, now) == resource
    # rounded up to the hour: the same link for reads within the hour, valid between ttl and ttl + 1 h
    assert links.url("invoices", resource, now + timedelta(minutes=20)) == url
    assert links.verify("invoices", token, now + timedelta(minutes=89)) == resource
    with pytest.raises(DocumentLinkExpired):
        links.verify("invoices", token, now + timedelta(minutes=90))
    with pytest.raises(DocumentNotFound):
        links.verify("credit_notes", token, now)  # another kind
    with pytest.raises(DocumentNotFound):
        DocumentLinks(key=b"t" * 32, public_url="x", ttl_seconds=3600).verify("invoices", token, now)
    body, mac = token.split(".")
    for altered in (body[::-1] + "." + mac, body + "." + mac[::-1], "", ".", "a.b", body, "!!!." + mac):
        with pytest.raises(DocumentNotFound):
            links.verify("invoices", altered, now)
    # a later expiry cannot be written into a token: it is under the MAC
    later = links.token("invoices", resource, links.expiry(now) + 10 * 86_400)
    forged = later.split(".")[0] + "." + mac
    with pytest.raises(DocumentNotFound):
        links.verify("invoices", forged, now)


def test_the_layout_prints_greek_cyrillic_and_hebrew_and_survives_a_cjk_name():
    writer = DocumentWriter(title="Test", created_at=datetime(2026, 1, 1, tzinfo=UTC), footer="footer")
    writer.heading("Invoice", "INV-1")
    writer.parties(address_party("From", name="Ωμέγα Α.Ε.", city="Αθήνα", country="GR"),
                   Party("Bill to", ("Ёлка Сервис", "שלום בע\"מ", "株式会社テスト", "line\x00with control")))
    writer.table([Column("Item", 70), Column("Amount", 30, "R")], [["Fee\nperiod", "1.00 EUR"]] * 60)
    writer.totals([("Total", "60.00 EUR", True)])
    content = writer.output()
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 2  # the table continues on the next page
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in ("Ωμέγα Α.Ε.", "Αθήνα", "Ёлка Сервис", "INV-1", "60.00 EUR", "line with control"):
        assert expected in text, expected


def test_western_text_uses_the_built_in_font_and_other_text_the_embedded_one():
    def write(name: str):
        def build(writer: DocumentWriter) -> None:
            writer.heading("Invoice", "INV-2")
            writer.parties(Party("Bill to", (name,)))
            writer.totals([("Total", "1,234.567 KWD", True)])
        return build

    western = render_document(write("Société Générale – «Zürich» €"), title="t")
    other = render_document(write("Ωμέγα"), title="t")
    assert b"/BaseFont /Helvetica" in western and b"DejaVu" not in western
    assert b"DejaVu" in other
    assert "Société Générale – «Zürich» €" in PdfReader(io.BytesIO(western)).pages[0].extract_text()
    assert "Ωμέγα" in PdfReader(io.BytesIO(other)).pages[0].extract_text()
    assert len(western) < len(other) / 3  # no font embedded
