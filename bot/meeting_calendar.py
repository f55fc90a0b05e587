"""« Ajouter à mon calendrier »: a signed link to a meeting's invitation (.ics), and the
endpoint that serves it.

The link is made with the one signed-token codec (bot/links.py), of its own kind: it names the
meeting and the person it was made for (an erasure revokes it), and speaks that person's
language. The file is produced when the link is opened, from the meeting as it is then: a
link from an older card gives the moved or cancelled meeting, with a higher SEQUENCE.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import links
from bot.settings import Settings
from cards.calendar_ics import build_meeting_ics
from cards.i18n import language_of, translator
from storage import meetings
from storage.models import Meeting, utcnow

logger = logging.getLogger(__name__)

LINK_KIND = "calendar"
ROUTE = "/calendar/{token}.ics"
REFUSALS = links.Refusals(
    invalid="calendar.link.invalid",
    expired="calendar.link.expired",
    unavailable="calendar.link.unavailable",
)
# Valid until a month after the meeting ends: long enough for a card read late, short enough
# that old cards stop answering.
AFTER_THE_MEETING = timedelta(days=30)


async def calendar_url(
    session: AsyncSession,
    settings: Settings,
    *,
    meeting: Meeting,
    person_id: int | None,
    locale: str,
    now: datetime,
) -> str | None:
    """The link for this person (None when there is nobody to name, or the meeting is long
    over)."""
    if person_id is None or meeting.id is None:
        return None
    expires_at = meeting.ends_at + AFTER_THE_MEETING
    if expires_at <= now:
        return None
    token = links.sign(
        await links.signing_key(session, settings),
        links.SignedValue(
            kind=LINK_KIND,
            person_id=person_id,
            language=language_of(locale),
            expires_at=expires_at,
            fields=(str(meeting.id),),
        ),
    )
    return links.public_link(settings, ROUTE.replace("{token}", token))


async def meeting_calendar(request: web.Request) -> web.Response:
    """GET /calendar/{token}.ics: the meeting's invitation (text/calendar). 403 for a link we
    did not sign, 410 once expired or revoked, 404 for a meeting that no longer exists, 503 if
    the database fails; never a 500."""
    opened = await links.open_link(
        request, request.match_info.get("token", ""), kind=LINK_KIND, refusals=REFUSALS
    )
    if isinstance(opened, web.Response):
        return opened
    value, settings = opened.value, opened.settings
    t = translator(value.language)
    if len(value.fields) != 1 or not value.fields[0].isdigit():
        return links.refusal(403, t(REFUSALS.invalid))
    meeting_id = int(value.fields[0])
    try:
        async with opened.sessions() as session:
            found = await meetings.meeting_with_community(session, meeting_id=meeting_id)
            items = await meetings.agenda_of(session, meeting_id=meeting_id) if found else []
        if found is None:
            return links.refusal(404, t("calendar.link.gone"))
        meeting, community = found
        locale = "fr-CA" if value.language == "fr" else "en-CA"
        text = build_meeting_ics(
            meeting, community, items, locale=locale, tz=settings.timezone, now=utcnow()
        )
    except Exception:
        logger.exception("calendar invitation could not be produced")
        return links.refusal(503, t(REFUSALS.unavailable))
    return web.Response(
        text=text,
        content_type="text/calendar",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="meeting-{meeting_id}.ics"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


__all__ = ["LINK_KIND", "ROUTE", "calendar_url", "meeting_calendar"]
