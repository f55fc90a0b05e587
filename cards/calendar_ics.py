"""A meeting as a calendar invitation (iCalendar, RFC 5545), in the member's language.

One VEVENT per meeting with a UID that never changes, so a calendar that imported it once
updates the same entry: SEQUENCE grows at each move, cancellation or restore, and a cancelled
meeting says STATUS:CANCELLED (with METHOD:CANCEL, which Outlook and Google read as the removal
of that entry). Times are UTC (no VTIMEZONE to maintain). Text values are escaped (backslash,
semicolon, comma, newline) and lines folded at 75 octets, never inside a UTF-8 character.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cards.agenda import volet_label
from cards.i18n import format_clock, format_span, translator
from storage.models import AgendaItem, Community, Meeting, MeetingMode, MeetingStatus

PRODUCT_ID = "-//Carrefour//Communautes de pratique//FR"
LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11): \\\\, \\;, \\, and \\n; other control characters,
    which a TEXT value may not hold, become spaces."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    value = value.replace("\n", "\\n")
    return "".join(" " if ord(c) < 32 or c == "\x7f" else c for c in value)


def fold(line: str) -> str:
    """Content lines longer than 75 octets continue on lines starting with a space (§3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= LINE_OCTETS:
        return line
    pieces: list[str] = []
    current = ""
    limit = LINE_OCTETS
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
            limit = LINE_OCTETS - 1  # the leading space counts
        current += char
    pieces.append(current)
    return "\r\n ".join(pieces)


def _uri(value: str) -> str:
    # A link typed in a form may hold a stray space or line break: never let one end the line.
    return "".join(c for c in value if ord(c) > 32 and c != "\x7f")


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands stored UTC times back naive
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def meeting_uid(meeting: Meeting) -> str:
    """Stable for the meeting's life: its id and when it was created (two databases never give
    the same meeting the same UID)."""
    return f"meeting-{meeting.id}-{_utc(meeting.created_at)}@carrefour"


def _description(
    meeting: Meeting, community: Community, items: Sequence[AgendaItem], *, locale: str, tz: str
) -> str:
    t = translator(locale)
    lines = [
        t("calendar.community", community=community.name),
        format_span(meeting.starts_at, meeting.ends_at, locale=locale, tz=tz),
        t("calendar.mode", mode=t(f"meeting.mode.{MeetingMode(meeting.mode).value}")),
    ]
    if meeting.place:
        lines.append(t("calendar.place", place=meeting.place))
    if meeting.online_link:
        lines.append(t("calendar.link", link=meeting.online_link))
    if meeting.general_objective:
        lines += ["", t("agenda.general_objective"), meeting.general_objective]
    if meeting.specific_objectives:
        lines += ["", t("agenda.specific_objectives")]
        lines += [f"- {objective}" for objective in meeting.specific_objectives]
    if items:
        lines += ["", t("agenda.title")]
        for item in items:
            presenter = f" — {item.presenter}" if item.presenter else ""
            lines.append(
                f"{format_clock(item.starts_at, locale=locale, tz=tz)} — {item.title}{presenter}"
                f" ({volet_label(item.volet, t)})"
            )
    return "\n".join(lines)


def build_meeting_ics(
    meeting: Meeting,
    community: Community,
    items: Sequence[AgendaItem],
    *,
    locale: str,
    tz: str,
    now: datetime,
) -> str:
    """The invitation as text (CRLF line ends, as RFC 5545 requires)."""
    t = translator(locale)
    cancelled = meeting.status == MeetingStatus.CANCELLED
    summary = (
        t("calendar.summary", community=community.name, title=meeting.title)
        if meeting.title
        else t("calendar.summary_untitled", community=community.name)
    )
    if cancelled:
        summary = t("calendar.summary_cancelled", summary=summary)
    location = meeting.place or (
        meeting.online_link if meeting.mode == MeetingMode.VIRTUAL else None
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if cancelled else 'PUBLISH'}",
        "BEGIN:VEVENT",
        f"UID:{meeting_uid(meeting)}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(meeting.starts_at)}",
        f"DTEND:{_utc(meeting.ends_at)}",
        f"SEQUENCE:{meeting.sequence}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(_description(meeting, community, items, locale=locale, tz=tz))}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    if meeting.online_link:
        # A URI value, not TEXT: not escaped (the link was checked to be https:// on input).
        lines.append(f"URL:{_uri(meeting.online_link)}")
    lines += ["TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)
