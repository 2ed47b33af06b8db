"""`DocumentWriter`: the layout every billing document shares, over fpdf2.

A4 portrait, 15 mm margins. Fonts: a document whose text is all Western European (Windows-1252: Latin
letters with accents, `–`, `«»`, `€`) is set in the PDF's built-in Helvetica (nothing to embed: ~15 ms for
an invoice of 20 lines, `bench/documents.py`); any other is set again in the bundled DejaVu Sans (regular
and bold), so that Greek, Cyrillic, Armenian, Georgian or Hebrew names print (the PDF embeds the subset of
glyphs used; ~70 ms, mostly subsetting the font). Either way the text stays extractable. A character DejaVu
lacks (CJK, for one) is left out of the page rather than failing the document.

    def write(writer: DocumentWriter) -> None:
        writer.heading("Invoice", "INV-202601-00001")
        writer.parties(Party("From", ("Acme SAS", "1 rue de Rivoli", "75001 Paris")), Party("Bill to", (...)))
        writer.facts([("Issuing date", "2026-01-31"), ("Due date", "2026-02-14")])
        writer.table([Column("Item", 46), Column("Units", 14, "R"), ...], rows)
        writer.totals([("Sub total", "100.00 EUR", False), ("Total", "120.00 EUR", True)])

    pdf_bytes = render_document(write, title="Invoice INV-202601-00001", created_at=issued_at)

Rendering is CPU work: callers on an event loop run it in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import copy
import io
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.errors import FPDFUnicodeEncodingException

FONTS = Path(__file__).with_name("fonts")
UNICODE_FAMILY, CORE_FAMILY = "DejaVu", "helvetica"
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
    text_family: str = CORE_FAMILY

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.text_family, "", 7)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0, 0, 0)


_TEMPLATES: dict[str, tuple] = {}
UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "kern", "FFTM")
_TEMPLATES_LOCK = threading.Lock()


def _add_unicode_fonts(pdf: FPDF) -> None:
    """DejaVu Sans regular and bold: what fpdf2 derives from each file (widths, character map, descriptor) is
    computed once per process and copied (its `TTFFont.__deepcopy__`, made for this: the derived data copied,
    the glyphs used recorded per document); each document reads its own lazily loaded font file (fontTools),
    which fpdf2 subsets at output. Reading the files in full each time was most of a document's cost."""
    with _TEMPLATES_LOCK:
        if not _TEMPLATES:
            reader = FPDF()
            reader.add_font(UNICODE_FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
            reader.add_font(UNICODE_FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
            for key, font in reader.fonts.items():
                _TEMPLATES[key] = (font, Path(font.ttffile).read_bytes())
        templates = dict(_TEMPLATES)
    for key, (template, data) in templates.items():
        # the widths and glyph ids are only read: shared, not copied (most of a deep copy's time)
        font = copy.deepcopy(template, {id(template.cw): template.cw, id(template.glyph_ids): template.glyph_ids})
        # its own font file: subsetting changes the fontTools object it works on. Without its layout tables
        # (ligatures, kerning: fpdf2 uses them only for text shaping, which is off), whose subsetting was
        # most of the output's time
        ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
        for tag in UNUSED_TABLES:
            if tag in ttfont:
                del ttfont[tag]
        font.ttfont = ttfont
        font.i = len(pdf.fonts) + 1  # its number among this document's fonts, as `add_font` gives it
        pdf.fonts[key] = font


def _clean(text: str) -> str:
    # control characters would be written as boxes or break the content stream's lines
    return "".join(ch if ch >= " " or ch == "\n" else " " for ch in text)


def render_document(write: Callable[[DocumentWriter], None], *, title: str, created_at: datetime | None = None,
                    footer: str = "") -> bytes:
    """The PDF `write` lays out: in the built-in font when all its text is Windows-1252, else in DejaVu Sans."""
    try:
        writer = DocumentWriter(title=title, created_at=created_at, footer=footer, unicode=False)
        write(writer)
        return writer.output()
    except FPDFUnicodeEncodingException:
        writer = DocumentWriter(title=title, created_at=created_at, footer=footer, unicode=True)
        write(writer)
        return writer.output()


class DocumentWriter:
    def __init__(self, *, title: str, created_at: datetime | None = None, footer: str = "",
                 unicode: bool = True) -> None:
        pdf = _Pdf(orientation="P", unit="mm", format="A4")
        pdf.footer_text = _clean(footer)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        if unicode:
            _add_unicode_fonts(pdf)
            pdf.text_family = UNICODE_FAMILY
        else:
            pdf.core_fonts_encoding = "windows-1252"
        self.family = pdf.text_family
        pdf.set_title(_clean(title))
        pdf.set_creator("Invora")
        pdf.set_producer("Invora (fpdf2)")
        if created_at is not None:  # the same document renders the same bytes
            pdf.set_creation_date(created_at)
        pdf.add_page()
        pdf.set_font(self.family, "", 9)
        self.pdf = pdf

    @property
    def width(self) -> float:
        return self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def heading(self, title: str, number: str | None = None, subtitle: str | None = None) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "B", 18)
        pdf.cell(self.width / 2, 10, _clean(title), align="L")
        if number:
            pdf.set_font(self.family, "B", 11)
            pdf.cell(self.width / 2, 10, _clean(number), align="R")
        pdf.ln(10)
        if subtitle:
            pdf.set_font(self.family, "", 9)
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
            pdf.set_font(self.family, "B", 8)
            pdf.set_text_color(*GREY)
            pdf.cell(column - 4, 5, _clean(party.heading.upper()))
            pdf.set_text_color(0, 0, 0)
            pdf.set_xy(x, top + 5)
            for position, line in enumerate(party.lines):
                pdf.set_font(self.family, "B" if position == 0 else "", 9)
                pdf.set_x(x)
                pdf.multi_cell(column - 4, 4.5, _clean(line), new_x="LEFT", new_y="NEXT")
            bottom = max(bottom, pdf.get_y())
        pdf.set_xy(pdf.l_margin, bottom + 4)

    def facts(self, rows: Sequence[tuple[str, str]], columns: int = 2) -> None:
        """Label: value pairs, `columns` pairs a line."""
        pdf = self.pdf
        rows = [(label, value) for label, value in rows if value]
        cell = self.width / columns
        label_share = 0.42 if columns > 1 else 0.25
        for start in range(0, len(rows), columns):
            for label, value in rows[start:start + columns]:
                pdf.set_font(self.family, "", 8)
                pdf.set_text_color(*GREY)
                pdf.cell(cell * label_share, 5, _clean(label))
                pdf.set_text_color(0, 0, 0)
                pdf.set_font(self.family, "", 9)
                pdf.cell(cell * (1 - label_share), 5, _clean(value))
            pdf.ln(5)
        pdf.ln(3)

    def section(self, title: str) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "B", 10)
        pdf.cell(0, 7, _clean(title))
        pdf.ln(7)

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """Rows of cells; a cell's `\n` starts a line (the first in the body font, the next ones smaller and
        grey: a fee's period), a line wider than its column wraps. The headings repeat on each new page.
        Drawn cell by cell (fpdf2's `table()` lays every cell out twice, character by character: ten times
        slower for an invoice's lines)."""
        pdf = self.pdf
        total = sum(c.width for c in columns)
        widths = [c.width * self.width / total for c in columns]
        line, padding = 4.2, 1.2

        def rule() -> None:
            pdf.set_draw_color(*RULE)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + self.width, pdf.get_y())
            pdf.set_draw_color(0, 0, 0)

        def headings() -> None:
            pdf.set_font(self.family, "B", 8)
            pdf.set_text_color(*GREY)
            for column, width in zip(columns, widths, strict=True):
                pdf.set_x(pdf.get_x() + padding)
                pdf.cell(width - 2 * padding, line + 2 * padding, _clean(column.heading), align=column.align)
                pdf.set_x(pdf.get_x() + padding)
            pdf.ln(line + 2 * padding)
            pdf.set_text_color(0, 0, 0)
            rule()

        def wrapped(text: str, width: float, size: float) -> list[str]:
            pdf.set_font(self.family, "", size)
            if pdf.get_string_width(text) <= width - 2 * padding:
                return [text]
            lines: list[str] = []
            current = ""
            for word in text.split(" "):
                candidate = f"{current} {word}" if current else word
                if current and pdf.get_string_width(candidate) > width - 2 * padding:
                    lines.append(current)
                    current = word
                else:
                    current = candidate
            return [*lines, current]

        headings()
        for row in rows:
            cells = []  # per cell: [(text, size, grey)]
            for value, width in zip(row, widths, strict=True):
                first, *rest = _clean(value).split("\n")
                cell = [(text, 8.0, False) for text in wrapped(first, width, 8.0)]
                cell += [(text, 7.0, True) for extra in rest for text in wrapped(extra, width, 7.0)]
                cells.append(cell)
            height = max(len(cell) for cell in cells) * line + 2 * padding
            if pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()
                headings()
            top = pdf.get_y()
            x = pdf.l_margin
            for column, width, cell in zip(columns, widths, cells, strict=True):
                for index, (text, size, grey) in enumerate(cell):
                    pdf.set_xy(x + padding, top + padding + index * line)
                    pdf.set_font(self.family, "", size)
                    if grey:
                        pdf.set_text_color(*GREY)
                    pdf.cell(width - 2 * padding, line, text, align=column.align)
                    if grey:
                        pdf.set_text_color(0, 0, 0)
                x += width
            pdf.set_xy(pdf.l_margin, top + height)
            rule()
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
            pdf.set_font(self.family, "B" if strong else "", 9)
            pdf.cell(label_width, 5.5, _clean(label), align="L")
            pdf.cell(value_width, 5.5, _clean(value), align="R")
            pdf.ln(5.5)
        pdf.ln(3)

    def note(self, text: str) -> None:
        pdf = self.pdf
        pdf.set_font(self.family, "", 8)
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
