"""The attestation de présence as a PDF (fpdf2): what the person reads, in French or English.

Every sentence comes from the catalogs; dates, times and numbers are formatted with Babel in
the reader's locale. Accents need a Unicode TrueType font: DejaVu Sans, from the system
(Debian's `fonts-dejavu-core`). The builder reads the font files and returns the document's
bytes; it writes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from cards.agenda import training_basis
from cards.i18n import babel_locale, format_clock, long_date, plural, translator
from storage.attestations import (
    DEFAULT_UEC_PER_HOUR,
    AttendedMeeting,
    AttestationData,
    hours_of,
    totals,
)

FONT_FAMILY = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# Where distributions put DejaVu: Debian/Ubuntu (fonts-dejavu-core), Fedora, Arch, Alpine.
FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts/dejavu"),
)
ACCENT = (31, 78, 121)  # a sober blue for the title and the table's headings
MARGIN = 20.0
PRODUCER = "Carrefour"
CLOSING_HEIGHT = 48.0  # mm: totals, rate, animator and issue date


class FontMissingError(RuntimeError):
    """No DejaVu Sans on this machine: install Debian's `fonts-dejavu-core`."""


@functools.cache
def find_font_dir(candidates: tuple[Path, ...] = FONT_DIRS) -> Path:
    for folder in candidates:
        if all((folder / name).is_file() for name in FONT_FILES.values()):
            return folder
    raise FontMissingError(
        "DejaVu Sans not found in " + ", ".join(str(c) for c in candidates) + ": "
        "install the fonts-dejavu-core package"
    )


_PAGE = "\x00"


class _Document(FPDF):
    header_text = ""  # on the pages after the first: whose attestation this is
    footer_text = ""  # with _PAGE where the page number goes; "{nb}" is the page count

    def header(self) -> None:
        if self.page_no() > 1 and self.header_text:
            self.set_font(FONT_FAMILY, size=8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, self.header_text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT_FAMILY, size=8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 10, self.footer_text.replace(_PAGE, str(self.page_no())), align="C")


def _number(value: Decimal, locale: str) -> str:
    return str(format_decimal(value, format="#,##0.##", locale=babel_locale(locale)))


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def activity_title(m: AttendedMeeting, *, locale: str) -> str:
    """A meeting's title; a codevelopment session's group and number in the series."""
    t = translator(locale)
    if m.codev_number is not None:
        return t(
            "attestation.pdf.codev_session",
            group=m.title.strip() or t("attestation.pdf.untitled"),
            number=m.codev_number,
        )
    return m.title.strip() or t("attestation.pdf.untitled")


def _rows(meetings: Sequence[AttendedMeeting], *, locale: str, tz: str) -> list[tuple[str, ...]]:
    t = translator(locale)
    return [
        (
            long_date(_local_day(m.starts_at, tz), locale),
            activity_title(m, locale=locale),
            t(
                "attestation.pdf.time_range",
                start=format_clock(m.starts_at, locale=locale, tz=tz),
                end=format_clock(m.ends_at, locale=locale, tz=tz),
            )
            # How the hours were counted: meals and breaks left out, or the whole meeting.
            + "\n"
            + training_basis(
                minutes=m.minutes,
                length=int((m.ends_at - m.starts_at).total_seconds() // 60),
                locale=locale,
            ),
            t("attestation.pdf.hours", hours=_number(hours_of(m.minutes), locale)),
        )
        for m in meetings
    ]


def build_attestation_pdf(
    data: AttestationData,
    *,
    locale: str,
    tz: str,
    uec_per_hour: Decimal = DEFAULT_UEC_PER_HOUR,
    font_dir: Path | None = None,
) -> bytes:
    """An attestation de présence for a period: the person, the community, each meeting with
    its date and hours, the total hours and continuing-education units, the responsible
    animator and the issue date."""
    t = translator(locale)
    folder = font_dir or find_font_dir()
    summary = totals(data.meetings, uec_per_hour=uec_per_hour)
    person = data.person_name.strip() or t("attestation.pdf.unnamed")

    pdf = _Document(orientation="portrait", unit="mm", format="Letter")
    for style, name in FONT_FILES.items():
        pdf.add_font(FONT_FAMILY, style, folder / name)
    title = t("attestation.pdf.title")
    pdf.set_title(f"{title} — {person}")
    pdf.set_subject(data.community_name)
    pdf.set_author(PRODUCER)
    pdf.set_creator(PRODUCER)
    pdf.set_lang(locale)
    pdf.set_creation_date(datetime.combine(data.issued_on, time(12), tzinfo=UTC))
    pdf.header_text = f"{title} — {person} — {data.community_name}"
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
    line(title, size=22, bold=True, gap=1)
    pdf.set_text_color(90, 90, 90)
    line(t("attestation.pdf.subtitle"), size=11, gap=8)
    pdf.set_text_color(0, 0, 0)

    line(person, size=15, bold=True, gap=1)
    line(data.community_name, size=12, gap=6)
    line(
        t(
            "attestation.pdf.statement",
            person=person,
            community=data.community_name,
            start=long_date(data.start, locale),
            end=long_date(data.end, locale),
        ),
        gap=5,
    )

    pdf.set_font(FONT_FAMILY, size=10)
    with pdf.table(
        col_widths=(42, 56, 54, 24),
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT"),
        line_height=6,
        padding=1.5,
        headings_style=FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=ACCENT),
        cell_fill_color=(242, 245, 249),
        cell_fill_mode="ROWS",
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row(
            (
                t("attestation.pdf.column.date"),
                t("attestation.pdf.column.meeting"),
                t("attestation.pdf.column.time"),
                t("attestation.pdf.column.hours"),
            )
        )
        for row in _rows(data.meetings, locale=locale, tz=tz):
            table.row(row)
    pdf.ln(6)

    # The totals, the animator and the date stay together on one page.
    if pdf.get_y() + CLOSING_HEIGHT > pdf.page_break_trigger:
        pdf.add_page()
    line(
        plural(
            locale,
            "attestation.pdf.total",
            summary.meetings,
            hours=_number(summary.hours, locale),
        ),
        bold=True,
        gap=1,
    )
    line(t("attestation.pdf.uec", uec=_number(summary.uec, locale)), bold=True, gap=1)
    line(
        t(
            "attestation.pdf.rate",
            rate=_number(uec_per_hour, locale),
            hours=_number(Decimal(1) / uec_per_hour, locale) if uec_per_hour else "—",
        ),
        size=9,
        gap=10,
    )

    if data.animator_name:
        line(t("attestation.pdf.animator", name=data.animator_name), gap=1)
    line(t("attestation.pdf.issued", date=long_date(data.issued_on, locale)), gap=1)
    return bytes(pdf.output())


__all__ = [
    "FontMissingError",
    "activity_title",
    "build_attestation_pdf",
    "find_font_dir",
    "long_date",
]
