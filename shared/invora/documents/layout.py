"""`DocumentWriter`: the layout every billing document shares, over fpdf2.

A4 portrait, 15 mm margins, the bundled DejaVu Sans (regular and bold) so that any Latin, Greek, Cyrillic,
Armenian, Georgian or Hebrew name prints (the PDF embeds the subset of glyphs used; text stays extractable).
A character the font lacks (CJK, for one) is left out of the page rather than failing the document.

    writer = DocumentWriter(title="Invoice INV-202601-00001", created_at=issued_at)
    writer.heading("Invoice", "INV-202601-00001")
    writer.parties(Party("From", ("Acme SAS", "1 rue de Rivoli", "75001 Paris", "FR")), Party("Bill to", (...)))
    writer.facts([("Issuing date", "2026-01-31"), ("Due date", "2026-02-14")])
    writer.table([Column("Item", 46), Column("Units", 14, "R"), ...], rows)
    writer.totals([("Sub total", "100.00 EUR", False), ("Total", "120.00 EUR", True)])
    pdf_bytes = writer.output()

Rendering is CPU work (tens of milliseconds, mostly reading and subsetting the font): callers on an event
loop run it in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

FONTS = Path(__file__).with_name("fonts")
FAMILY = "DejaVu"
MARGIN = 15.0
GREY = (110, 110, 110)
RULE = (200, 200, 200)

# fpdf2 logs a warning per character a font lacks; a document still renders without them
logging.getLogger("fpdf.output").setLevel(logging.ERROR)
logging.getLogger("fpdf.fpdf").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class Party:
    """A block of lines under a small heading (the issuer, the customer)."""

    heading: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Column:
    heading: str
    width: float  # a share of the page's width (the shares of a table are scaled to fill it)
    align: str = "L"  # L, R, C


class _Pdf(FPDF):
    footer_text: str = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 7)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _clean(text: str) -> str:
    # control characters would be written as boxes or break the content stream's lines
    return "".join(ch if ch >= " " or ch == "\n" else " " for ch in text)


class DocumentWriter:
    def __init__(self, *, title: str, created_at: datetime | None = None, footer: str = "") -> None:
        pdf = _Pdf(orientation="P", unit="mm", format="A4")
        pdf.footer_text = _clean(footer)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        pdf.set_title(_clean(title))
        pdf.set_creator("Invora")
        pdf.set_producer("Invora (fpdf2)")
        if created_at is not None:  # the same document renders the same bytes
            pdf.set_creation_date(created_at)
        pdf.add_page()
        pdf.set_font(FAMILY, "", 9)
        self.pdf = pdf

    @property
    def width(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def heading(self, title: str, number: str | None = None, subtitle: str | None = None) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B", 18)
        pdf.cell(self.width / 2, 10, _clean(title), align="L")
        if number:
            pdf.set_font(FAMILY, "B", 11)
            pdf.cell(self.width / 2, 10, _clean(number), align="R")
        pdf.ln(10)
        if subtitle:
            pdf.set_font(FAMILY, "", 9)
            pdf.set_text_color(*GREY)
            pdf.cell(0, 5, _clean(subtitle))
            pdf.set_text_color(0, 0, 0)
            pdf.ln(5)
        pdf.ln(3)

    def parties(self, *parties: Party) -> None:
        """Blocks side by side, each its share of the width; the page continues below the tallest."""
        pdf = self.pdf
        if not parties:
            return
        top, bottom = pdf.get_y(), pdf.get_y()
        column = self.width / len(parties)
        for index, party in enumerate(parties):
            x = pdf.l_margin + index * column
            pdf.set_xy(x, top)
            pdf.set_font(FAMILY, "B", 8)
            pdf.set_text_color(*GREY)
            pdf.cell(column - 4, 5, _clean(party.heading.upper()))
            pdf.set_text_color(0, 0, 0)
            pdf.set_xy(x, top + 5)
            for position, line in enumerate(party.lines):
                pdf.set_font(FAMILY, "B" if position == 0 else "", 9)
                pdf.set_x(x)
                pdf.multi_cell(column - 4, 4.5, _clean(line), new_x="LEFT", new_y="NEXT")
            bottom = max(bottom, pdf.get_y())
        pdf.set_xy(pdf.l_margin, bottom + 4)

    def facts(self, rows: Sequence[tuple[str, str]], columns: int = 2) -> None:
        """Label: value pairs, `columns` pairs a line."""
        pdf = self.pdf
        rows = [(label, value) for label, value in rows if value]
        cell = self.width / columns
        for start in range(0, len(rows), columns):
            for label, value in rows[start:start + columns]:
                pdf.set_font(FAMILY, "", 8)
                pdf.set_text_color(*GREY)
                pdf.cell(cell * 0.42, 5, _clean(label))
                pdf.set_text_color(0, 0, 0)
                pdf.set_font(FAMILY, "", 9)
                pdf.cell(cell * 0.58, 5, _clean(value))
            pdf.ln(5)
        pdf.ln(3)

    def section(self, title: str) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B", 10)
        pdf.cell(0, 7, _clean(title))
        pdf.ln(7)

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        pdf = self.pdf
        total = sum(c.width for c in columns)
        widths = tuple(c.width * self.width / total for c in columns)
        pdf.set_font(FAMILY, "", 8)
        pdf.set_draw_color(*RULE)
        with pdf.table(col_widths=widths, width=self.width, text_align=tuple(c.align for c in columns),
                       borders_layout="HORIZONTAL_LINES", line_height=5, padding=1,
                       headings_style=FontFace(emphasis="BOLD", color=GREY)) as table:
            table.row([_clean(c.heading) for c in columns])
            for row in rows:
                table.row([_clean(value) for value in row])
        pdf.set_draw_color(0, 0, 0)
        pdf.ln(3)

    def totals(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        """Right-aligned label / amount lines; `True` prints the line in bold above a rule."""
        pdf = self.pdf
        label_width, value_width = 70.0, 40.0
        left = pdf.l_margin + self.width - label_width - value_width
        for label, value, strong in rows:
            if strong:
                pdf.set_draw_color(*RULE)
                pdf.line(left, pdf.get_y(), pdf.l_margin + self.width, pdf.get_y())
                pdf.set_draw_color(0, 0, 0)
            pdf.set_x(left)
            pdf.set_font(FAMILY, "B" if strong else "", 9)
            pdf.cell(label_width, 5.5, _clean(label), align="L")
            pdf.cell(value_width, 5.5, _clean(value), align="R")
            pdf.ln(5.5)
        pdf.ln(3)

    def note(self, text: str) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "", 8)
        pdf.set_text_color(*GREY)
        pdf.multi_cell(0, 4, _clean(text))
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def address_party(heading: str, *, name: str | None, legal_name: str | None = None,
                  address_line1: str | None = None, address_line2: str | None = None, zipcode: str | None = None,
                  city: str | None = None, state: str | None = None, country: str | None = None,
                  tax_identification_number: str | None = None, legal_number: str | None = None,
                  email: str | None = None, fallback: str = "") -> Party:
    """A party block from Lago-style address fields; absent fields leave no empty line."""
    lines: list[str] = [name or legal_name or fallback]
    if legal_name and legal_name != lines[0]:
        lines.append(legal_name)
    lines += [line for line in (address_line1, address_line2) if line]
    town = " ".join(part for part in (zipcode, city) if part)
    if town or state:
        lines.append(", ".join(part for part in (town, state) if part))
    if country:
        lines.append(country)
    if tax_identification_number:
        lines.append(f"Tax ID: {tax_identification_number}")
    if legal_number:
        lines.append(f"Registration: {legal_number}")
    if email:
        lines.append(email)
    return Party(heading, tuple(line for line in lines if line))
