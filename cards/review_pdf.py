"""The annual review as a PDF (fpdf2, the attestations' stack and font): the same sections and
figures as the card (cards/review.py `review_sections`), and the meetings held each month as
a bar chart drawn with rectangles. Returns the document's bytes; writes nothing."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from fpdf.enums import XPos, YPos

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
from cards.i18n import translator
from cards.review import period_text, review_sections
from cards.vitality import short_month
from storage.review import AnnualReview

CHART_HEIGHT = 35.0  # mm, the tallest bar


def build_review_pdf(
    review: AnnualReview, *, locale: str, tz: str, font_dir: Path | None = None
) -> bytes:
    t = translator(locale)
    folder = font_dir or find_font_dir()
    title = t("review.title", community=review.community_name, year=review.year)
    pdf = _Document(orientation="portrait", unit="mm", format="Letter")
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT_FAMILY, style, folder / name)
    pdf.set_title(title)
    pdf.set_subject(review.community_name)
    pdf.set_author(PRODUCER)
    pdf.set_creator(PRODUCER)
    pdf.set_lang(locale)
    # Reproducible: the document's date is the review's, not the moment it was printed.
    pdf.set_creation_date(review.as_of.astimezone(UTC).replace(microsecond=0))
    pdf.header_text = title
    pdf.footer_text = t("review.pdf.footer", page=_PAGE, pages=pdf.str_alias_nb_pages)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()
    width = pdf.epw

    def line(text: str, *, size: float = 10, bold: bool = False, gap: float = 1.5) -> None:
        pdf.set_font(FONT_FAMILY, "B" if bold else "", size)
        pdf.multi_cell(width, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    pdf.set_text_color(*ACCENT)
    line(title, size=18, bold=True, gap=1)
    pdf.set_text_color(90, 90, 90)
    line(period_text(review, locale=locale, tz=tz), size=10, gap=6)
    pdf.set_text_color(0, 0, 0)

    for index, section in enumerate(review_sections(review, locale=locale, tz=tz)):
        pdf.set_text_color(*ACCENT)
        line(section.title, size=13, bold=True, gap=2)
        pdf.set_text_color(0, 0, 0)
        for name, value in section.facts:
            line(f"{name} : {value}" if locale.startswith("fr") else f"{name}: {value}")
        for text in section.lines:
            line(f"• {text}")
        pdf.ln(3)
        if index == 0:
            _chart(pdf, review, locale=locale, width=width)
    return bytes(pdf.output())


def _chart(pdf: _Document, review: AnnualReview, *, locale: str, width: float) -> None:
    t = translator(locale)
    months = review.months
    if not months:
        return
    if pdf.get_y() + CHART_HEIGHT + 20 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 10)
    pdf.cell(0, 6, t("review.chart.title"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    top = pdf.get_y() + 2
    highest = max(m.meetings for m in months) or 1
    slot = width / len(months)
    pdf.set_fill_color(*ACCENT)
    pdf.set_font(FONT_FAMILY, "", 7)
    for i, month in enumerate(months):
        height = month.meetings / highest * CHART_HEIGHT
        x = MARGIN + i * slot
        if height:
            pdf.rect(x + slot * 0.2, top + CHART_HEIGHT - height, slot * 0.6, height, style="F")
        pdf.set_xy(x, top + CHART_HEIGHT + 1)
        pdf.cell(slot, 4, str(month.meetings), align="C")
        pdf.set_xy(x, top + CHART_HEIGHT + 5)
        pdf.cell(slot, 4, short_month(month.month, locale=locale), align="C")
        # A review's year spans thirteen calendar months: « juin » twice, told apart by year.
        pdf.set_xy(x, top + CHART_HEIGHT + 9)
        pdf.cell(slot, 4, str(month.month.year), align="C")
    pdf.set_xy(MARGIN, top + CHART_HEIGHT + 16)


__all__ = ["build_review_pdf"]
