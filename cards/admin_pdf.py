"""A meeting's attendance sheet as a printable PDF (fpdf2, the attestations' stack and font):
the members recorded present with their partial presence and hours, the guests, and an empty
column for each person's signature. Imported on first use (the PDF library is heavy)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from cards.admin import hours_text
from cards.attestation_pdf import (
    _PAGE,
    ACCENT,
    FONT_FAMILY,
    FONT_FILES,
    MARGIN,
    PRODUCER,
    _Document,
    find_font_dir,
)
from cards.i18n import format_span, translator
from storage.admin import Sheet

ROW_HEIGHT = 11  # mm: room to sign by hand


def build_sheet_pdf(
    data: Sheet, *, locale: str, tz: str, issued_at: datetime, font_dir: Path | None = None
) -> bytes:
    t = translator(locale)
    folder = font_dir or find_font_dir()
    meeting = data.meeting
    title = t("admin.pdf.title")
    pdf = _Document(orientation="portrait", unit="mm", format="Letter")
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT_FAMILY, style, folder / name)
    pdf.set_title(f"{title} — {data.community.name}")
    pdf.set_author(PRODUCER)
    pdf.set_creator(PRODUCER)
    pdf.set_lang(locale)
    pdf.set_creation_date(issued_at.astimezone(UTC))
    pdf.header_text = f"{title} — {data.community.name}"
    pdf.footer_text = t("attestation.pdf.footer", page=_PAGE, pages=pdf.str_alias_nb_pages)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, *, size: float = 11, bold: bool = False, gap: float = 2) -> None:
        pdf.set_font(FONT_FAMILY, "B" if bold else "", size)
        pdf.multi_cell(width, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    pdf.set_text_color(*ACCENT)
    line(title, size=20, bold=True, gap=1)
    pdf.set_text_color(0, 0, 0)
    line(data.community.name, size=13, bold=True, gap=1)
    if meeting.title:
        line(meeting.title, size=12, gap=1)
    line(format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz), gap=6)

    pdf.set_font(FONT_FAMILY, size=10)
    headings = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT)
    with pdf.table(
        col_widths=(52, 30, 18, 18, 18, 40),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        line_height=ROW_HEIGHT,
        padding=1.5,
        headings_style=headings,
        borders_layout="ALL",
    ) as table:
        table.row(
            (
                t("admin.csv.name"),
                t("admin.csv.status"),
                t("admin.pdf.late"),
                t("admin.pdf.early"),
                t("admin.pdf.hours"),
                t("admin.pdf.signature"),
            )
        )
        for entry in data.lines:
            table.row(
                (
                    entry.name or t("admin.unnamed"),
                    t("admin.csv.member"),
                    str(entry.late or ""),
                    str(entry.early or ""),
                    hours_text(entry.minutes, locale),
                    "",
                )
            )
        for guest in data.guests:
            table.row((guest.name, t(f"admin.guest.{guest.kind}"), "", "", "", ""))
    pdf.ln(4)
    line(t("admin.pdf.note"), size=9, gap=1)
    return bytes(pdf.output())


__all__ = ["build_sheet_pdf"]
