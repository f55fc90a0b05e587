"""Planning the year (`planifier l'année`, `rencontres de l'année`, `sondage de dates`,
`modifier la charte`).

A series is a year's dates made at once from one card form; each date waits as a draft until a
facilitator completes it: its « Compléter » button posts the meeting planning card
(bot/meetings_flow.py) filled with its date, times, mode and place, under the date's own draft
key, so the date becomes one meeting however many times it is completed. A date poll is a poll
(storage/polls.py) whose options are dates; once it closes, a job posts its winning date in the
channel with « Planifier la rencontre », the same planning form filled with that date.

Every button checks again, in the channel it was clicked in, that the sender animates that
channel's community; what a card's data names (a date, a poll) must belong to it.

Once a year a job proposes the needs survey to each facilitator of a community that opened none
in twelve months (storage/planning.py says which, and keys the outbox rows so it goes once). The
card is drawn at send time, with last year's results as storage/surveys.py `results` shows them;
its « Lancer le sondage » is the needs survey's own launch (`surveys.needs.start`, which checks
the role again), and « Plus tard » (`planning.needs.later`, in the 1:1 chat) brings it back once.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from microsoft_agents.activity import Activity
from sqlalchemy.exc import IntegrityError

from bot.channels import channel_community
from bot.deliveries import RenderContext
from bot.meetings_flow import FORM_PLAN, VERB_PLAN_OPEN
from bot.polls_flow import channel_card, form_error_texts
from bot.registry import JobContext
from bot.turns import FeatureTurn, VerbHandler, as_int, card_activity
from cards.agenda import build_form_launcher_card
from cards.community import build_one_pager_card
from cards.consultations import identifier_kinds_text
from cards.i18n import format_day, format_span, plural
from cards.planning import (
    MAX_POLL_DATES,
    VERB_CANCEL,
    VERB_CHARTER_SAVE,
    VERB_NEEDS_LATER,
    VERB_POLL_CREATE,
    VERB_SERIES_COMPLETE,
    VERB_SERIES_CREATE,
    VERB_SERIES_RESIZE,
    VERB_SERIES_SHOW,
    CharterValues,
    DatePollForm,
    DateRow,
    SeriesForm,
    build_charter_form_card,
    build_date_poll_form_card,
    build_needs_due_card,
    build_series_card,
    build_series_form_card,
    build_winning_date_card,
    date_line,
)
from dialogs.views import load_one_pager
from storage import communities, outbox, planning, polls, surveys
from storage.communities import NotAllowed, has_role
from storage.db import SessionFactory, transaction
from storage.identifiers import IdentifierKind, unconfirmed
from storage.models import Community, MeetingMode, Role
from storage.planning import (
    MAX_DATES,
    MAX_PLACES,
    MIN_DATES,
    Charter,
    InvalidSeries,
    SeriesDateDraft,
)
from storage.polls import InvalidPoll

logger = logging.getLogger(__name__)

_REQUEST = re.compile(r"[0-9a-f]{32}")
MAX_LIST_ITEMS = 12
DEFAULT_POLL_DAYS = 7


# -- helpers ---------------------------------------------------------------------------------


def _text(value: Mapping[str, Any], key: str, limit: int = 300) -> str:
    raw = value.get(key)
    return raw.strip()[:limit] if isinstance(raw, str) else ""


def _lines(text: str) -> list[str]:
    return [line.strip(" -•\t") for line in text.splitlines() if line.strip(" -•\t")]


def _request(value: Mapping[str, Any]) -> str | None:
    raw = value.get("request")
    return raw if isinstance(raw, str) and _REQUEST.fullmatch(raw) else None


def _at(day: str, clock: str, tz: str) -> datetime | None:
    try:
        local = datetime.combine(
            date.fromisoformat(day), time.fromisoformat(clock), tzinfo=ZoneInfo(tz)
        )
    except (TypeError, ValueError):
        return None
    return local.astimezone(UTC)


async def _animated_here(turn: FeatureTurn) -> Community | None:
    """The channel's community when the sender animates it; otherwise says why not."""
    community = await channel_community(turn.sessions, turn.info, turn.context.activity)
    if community is None or community.id is None:
        await turn.say("plan.channel_only")
        return None
    async with turn.sessions() as session:
        member = await communities.membership(
            session, person_id=turn.info.person_id or 0, community_id=community.id
        )
    if not has_role(member, Role.ANIMATOR):
        await turn.say("plan.animators_only")
        return None
    return community


def _rows(value: Mapping[str, Any], count: int, *, mode: str) -> tuple[DateRow, ...]:
    rows: list[DateRow] = []
    for n in range(count):
        raw_mode = _text(value, f"mode_{n}", 16)
        rows.append(
            DateRow(
                date=_text(value, f"date_{n}", 10),
                start=_text(value, f"start_{n}", 5) or "09:00",
                end=_text(value, f"end_{n}", 5) or "12:00",
                mode=raw_mode if raw_mode in {m.value for m in MeetingMode} else mode,
                place=_text(value, f"place_{n}"),
            )
        )
    return tuple(rows)


def _count(raw: object, default: int) -> int:
    number = as_int(raw)
    if number is None:
        return default
    return min(max(number, MIN_DATES), MAX_DATES)


# -- the series ------------------------------------------------------------------------------


async def on_plan_year_command(turn: FeatureTurn) -> None:
    community = await _animated_here(turn)
    if community is None:
        return
    mode = MeetingMode(community.usual_mode).value
    form = SeriesForm(rows=(DateRow(mode=mode),) * planning.DEFAULT_DATES)
    await turn.show(build_series_form_card(form, locale=turn.info.locale, request=uuid.uuid4().hex))


def _series_form(value: Mapping[str, Any], *, mode: str) -> SeriesForm:
    shown = _count(value.get("rows"), planning.DEFAULT_DATES)
    return SeriesForm(rows=_rows(value, shown, mode=mode), places=_text(value, "places", 2000))


async def _on_series_resize(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Changer le nombre »: the same form with as many dates as chosen, typed ones kept."""
    community = await _animated_here(turn)
    request = _request(value)
    if community is None:
        return
    if request is None:
        await turn.say("error.unknown_action")
        return
    mode = MeetingMode(community.usual_mode).value
    form = _series_form(value, mode=mode)
    wanted = _count(value.get("count"), len(form.rows))
    rows = (form.rows + (DateRow(mode=mode),) * MAX_DATES)[:wanted]
    card = build_series_form_card(
        SeriesForm(rows=rows, places=form.places), locale=turn.info.locale, request=request
    )
    await turn.replace_clicked(card)


def _series_drafts(
    form: SeriesForm, *, tz: str
) -> tuple[list[SeriesDateDraft], list[tuple[int | None, str]]]:
    drafts: list[SeriesDateDraft] = []
    problems: list[tuple[int | None, str]] = []
    for number, row in enumerate(form.rows, start=1):
        starts_at, ends_at = _at(row.date, row.start, tz), _at(row.date, row.end, tz)
        if starts_at is None or ends_at is None:
            problems.append((number, "date"))
            continue
        drafts.append(SeriesDateDraft(starts_at, ends_at, MeetingMode(row.mode), row.place or None))
    if len(_lines(form.places)) > MAX_PLACES:
        problems.append((None, "places"))
    return drafts, problems


def _problem_texts(turn: FeatureTurn, problems: tuple[tuple[int | None, str], ...]) -> list[str]:
    texts: list[str] = []
    for number, code in problems:
        reason = turn.t(f"planning.error.{code}", max=MAX_DATES, places=MAX_PLACES)
        text = (
            reason if number is None else turn.t("planning.error.at", number=number, reason=reason)
        )
        if text not in texts:
            texts.append(text)
    return texts


async def _on_series_create(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Créer la série »: the series and its draft dates, once per form; the form again with
    what to fix otherwise. The form becomes the series card."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    request = _request(value)
    if request is None:
        await turn.say("error.unknown_action")
        return
    tz = turn.info.timezone
    form = _series_form(value, mode=MeetingMode(community.usual_mode).value)
    wanted = _count(value.get("count"), len(form.rows))
    if wanted < len(form.rows):
        # A smaller number chosen without « Changer le nombre »: the first dates only.
        form = SeriesForm(rows=form.rows[:wanted], places=form.places)
    drafts, problems = _series_drafts(form, tz=tz)
    try:
        if problems:
            raise InvalidSeries(problems)
        drafts = planning.rotate_places(drafts, _lines(form.places))
        async with transaction(turn.sessions) as session:
            series, created = await planning.create_series(
                session,
                community_id=community.id,
                by_person_id=turn.person_id,
                request_key=request,
                drafts=drafts,
                now=turn.clock(),
            )
            rows = await planning.series_rows(session, series_id=series.id or 0)
    except InvalidSeries as invalid:
        card = build_series_form_card(
            form,
            locale=turn.info.locale,
            request=request,
            errors=_problem_texts(turn, invalid.problems),
        )
        await turn.replace_clicked(card)
        return
    except NotAllowed:
        await turn.say("plan.animators_only")
        return
    await turn.replace_clicked(build_series_card(rows, locale=turn.info.locale, tz=tz))
    if created:
        await turn.context.send_activity(
            plural(turn.info.locale, "planning.series.created", len(rows))
        )
    else:
        await turn.say("planning.series.already")


async def on_year_calendar_command(turn: FeatureTurn) -> None:
    """`rencontres de l'année`: the latest series, as it is now."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    async with turn.sessions() as session:
        series = await planning.latest_series(session, community_id=community.id)
        rows = await planning.series_rows(session, series_id=series.id or 0) if series else []
    if not rows:
        await turn.say("planning.series.none")
        return
    await turn.show(build_series_card(rows, locale=turn.info.locale, tz=turn.info.timezone))


async def _on_series_show(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await on_year_calendar_command(turn)


def _prefill(starts_at: datetime, ends_at: datetime, tz: str, **more: str) -> dict[str, str]:
    zone = ZoneInfo(tz)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    return {
        "date": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        **more,
    }


async def _on_series_complete(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Compléter »: the meeting planning card for that date, filled in (a date of another
    community, or a forged id, is refused)."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    date_id = as_int(value.get("date_id"))
    try:
        async with turn.sessions() as session:
            row = (
                await planning.series_date_for(
                    session, date_id=date_id, community_id=community.id, person_id=turn.person_id
                )
                if date_id is not None
                else None
            )
    except NotAllowed:
        await turn.say("plan.animators_only")
        return
    if row is None:
        await turn.say("error.unknown_action")
        return
    tz = turn.info.timezone
    found = row.date
    when = date_line(found.starts_at, found.ends_at, locale=turn.info.locale, tz=tz)
    if row.meeting is not None:
        await turn.say("planning.series.already_planned", when=when)
        return
    prefill = _prefill(found.starts_at, found.ends_at, tz, mode=found.mode, place=found.place or "")
    card = build_form_launcher_card(
        title=turn.t("planning.series.complete_title", when=when),
        form=FORM_PLAN,
        verb=VERB_PLAN_OPEN,
        data={"draft": found.draft_key, "prefill": prefill},
        locale=turn.info.locale,
    )
    await turn.show(card)


# -- date polls ------------------------------------------------------------------------------


async def on_date_poll_command(turn: FeatureTurn) -> None:
    if await _animated_here(turn) is None:
        return
    closing = (turn.clock().astimezone(ZoneInfo(turn.info.timezone)) + timedelta(days=7)).date()
    form = DatePollForm(close_date=closing.isoformat())
    await turn.show(
        build_date_poll_form_card(form, locale=turn.info.locale, request=uuid.uuid4().hex)
    )


def _poll_form(value: Mapping[str, Any]) -> DatePollForm:
    return DatePollForm(
        question=_text(value, "question"),
        rows=_rows(value, MAX_POLL_DATES, mode=MeetingMode.HYBRID.value),
        close_date=_text(value, "close_date", 10),
        close_time=_text(value, "close_time", 5) or "17:00",
    )


async def _on_poll_create(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Lancer le sondage »: a poll whose options are the typed dates (empty rows left out),
    posted in the channel; the same form twice makes one poll."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    request = _request(value)
    if request is None:
        await turn.say("error.unknown_action")
        return
    async with turn.sessions() as session:
        made = await planning.date_poll_made(session, request_key=request)
    if made is not None:  # a second click on the same form
        await turn.say("planning.poll.already")
        return
    tz, locale, now = turn.info.timezone, turn.info.locale, turn.clock()
    form = _poll_form(value)
    errors: list[str] = []
    dates: list[tuple[datetime, datetime]] = []
    for number, row in enumerate(form.rows, start=1):
        if not row.date:
            continue
        starts_at, ends_at = _at(row.date, row.start, tz), _at(row.date, row.end, tz)
        if starts_at is None or ends_at is None or ends_at <= starts_at:
            errors.append(
                turn.t("planning.error.at", number=number, reason=turn.t("planning.error.date"))
            )
        elif starts_at <= now:
            reason = turn.t("planning.error.in_the_past")
            errors.append(turn.t("planning.error.at", number=number, reason=reason))
        else:
            dates.append((starts_at, ends_at))
    closes_at = _at(form.close_date, form.close_time, tz)
    if closes_at is None:
        errors.append(turn.t("planning.error.close"))
    elif dates and closes_at >= min(start for start, _ in dates):
        errors.append(turn.t("planning.error.close_after_dates"))
    options = [format_span(start, end, locale=locale, tz=tz) for start, end in dates]
    if not errors and closes_at is not None:
        errors += form_error_texts(
            polls.problems(question=form.question, options=options, closes_at=closes_at, now=now),
            locale,
        )
    if errors or closes_at is None:
        card = build_date_poll_form_card(form, locale=locale, request=request, errors=errors)
        await turn.replace_clicked(card)
        return
    try:
        async with transaction(turn.sessions) as session:
            poll = await polls.create(
                session,
                community_id=community.id,
                created_by_id=turn.person_id,
                question=form.question,
                options=options,
                multiple=True,  # people say every date they can come
                anonymous=False,
                closes_at=closes_at,
                now=now,
            )
            await planning.record_date_poll(session, poll=poll, request_key=request, dates=dates)
            card = await channel_card(session, poll, default_locale=locale, tz=tz)
    except NotAllowed:
        await turn.say("plan.animators_only")
        return
    except InvalidPoll as invalid:
        card = build_date_poll_form_card(
            form,
            locale=locale,
            request=request,
            errors=form_error_texts(list(invalid.reasons), locale),
        )
        await turn.replace_clicked(card)
        return
    except IntegrityError:
        # Two clicks at once: the second's request key is taken, its poll rolled back.
        async with turn.sessions() as session:
            made = await planning.date_poll_made(session, request_key=request)
        if made is None:
            raise
        await turn.say("planning.poll.already")
        return
    assert poll.id is not None
    try:
        response = await turn.show(card)
    except Exception:
        # Not posted, so nobody can vote on it: forget it rather than close an empty poll.
        async with transaction(turn.sessions) as session:
            await planning.forget_date_poll(session, poll_id=poll.id)
            await polls.discard_unposted(session, poll_id=poll.id)
        raise
    activity_id = getattr(response, "id", None)
    if not activity_id:
        logger.warning("date poll %s posted without an activity id", poll.id)
        return
    async with transaction(turn.sessions) as session:
        await polls.record_posted(
            session,
            poll_id=poll.id,
            conversation_ref_id=await polls.conversation_ref_id(
                session, conversation_id=str(turn.context.activity.conversation.id or "")
            ),
            activity_id=str(activity_id),
        )


async def announce_closed_date_polls(context: JobContext) -> int:
    """Each closed date poll's winning date goes once to the channel it was posted in (or to
    its author when it was not recorded where)."""
    now = context.now()
    queued = 0
    async with context.sessions() as session:
        due = await planning.closed_unannounced(session)
    for found, poll in due:
        assert found.id is not None
        assert poll.id is not None
        async with transaction(context.sessions) as session:
            if not await planning.mark_announced(session, date_poll_id=found.id, now=now):
                continue
            if poll.conversation_ref_id is not None:
                recipient = outbox.Recipient.conversation(poll.conversation_ref_id)
            elif poll.created_by_id is not None:
                recipient = outbox.Recipient.person(poll.created_by_id)
            else:
                continue
            queued += await outbox.enqueue(
                session,
                dedup_key=f"date_poll_outcome:{poll.id}",
                recipient=recipient,
                kind=planning.KIND_DATE_POLL_OUTCOME,
                params={"poll_id": poll.id},
            )
    if queued:
        context.wake()
    return queued


async def render_winning_date(context: RenderContext) -> Activity | None:
    """The winning date, as the votes stand at send time, with « Planifier la rencontre »."""
    poll_id = as_int(context.message.params.get("poll_id"))
    if poll_id is None:
        return None
    async with context.sessions() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        found = await planning.date_poll_of(session, poll_id=poll_id)
        if poll is None or found is None:
            return None
        results = await polls.results(session, poll_id=poll_id)
    dates = planning.option_dates(found)
    index = planning.winning_option(results.counts, dates)
    data: dict[str, Any] = {"draft": planning.poll_draft_key(poll_id)}
    winner = dates[index] if index is not None else None
    if winner is not None:
        data["prefill"] = _prefill(winner[0], winner[1], context.timezone)
    card = build_winning_date_card(
        question=poll.question,
        winner=winner,
        votes=results.counts[index] if results.counts and index is not None else 0,
        form=FORM_PLAN,
        verb=VERB_PLAN_OPEN,
        data=data,
        locale=context.locale,
        tz=context.timezone,
    )
    return card_activity(card)


# -- the charter -----------------------------------------------------------------------------


def _charter_values(community: Community) -> CharterValues:
    return CharterValues(
        domain=community.domain,
        objectives="\n".join(community.objectives),
        theme=community.theme,
        audience=community.audience,
        cadence=community.cadence,
        mode=MeetingMode(community.usual_mode).value,
        rules="\n".join(community.rules),
    )


async def on_edit_charter_command(turn: FeatureTurn) -> None:
    community = await _animated_here(turn)
    if community is None:
        return
    await turn.show(
        build_charter_form_card(
            _charter_values(community), community_name=community.name, locale=turn.info.locale
        )
    )


def _charter_form(value: Mapping[str, Any]) -> CharterValues:
    return CharterValues(
        domain=_text(value, "domain", 4000),
        objectives=_text(value, "objectives", 4000),
        theme=_text(value, "theme", 1000),
        audience=_text(value, "audience", 1000),
        cadence=_text(value, "cadence", 1000),
        mode=_text(value, "mode", 16),
        rules=_text(value, "rules", 4000),
    )


def _charter_problems(turn: FeatureTurn, form: CharterValues) -> list[str]:
    errors: list[str] = []
    objectives, rules = _lines(form.objectives), _lines(form.rules)
    if not objectives:
        errors.append(turn.t("setup.error.objectives"))
    if len(objectives) > MAX_LIST_ITEMS or len(rules) > MAX_LIST_ITEMS:
        errors.append(turn.t("setup.error.too_many", count=MAX_LIST_ITEMS))
    if form.mode not in {m.value for m in MeetingMode}:
        errors.append(turn.t("setup.error.mode"))
    if (
        len(form.domain) > 2000
        or any(len(v) > 500 for v in (form.theme, form.audience))
        or len(form.cadence) > 200
        or any(len(line) > 500 for line in objectives + rules)
    ):
        errors.append(turn.t("setup.error.too_long"))
    return errors


async def _on_charter_save(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Enregistrer la charte »: checked, screened for client identifiers (the author may say
    that spotted names name no client), saved; the form becomes the one-pager members see."""
    community = await _animated_here(turn)
    if community is None or community.id is None:
        return
    form = _charter_form(value)
    errors = _charter_problems(turn, form)
    text = "\n".join(
        (form.domain, form.objectives, form.theme, form.audience, form.cadence, form.rules)
    )
    confirmed = ["name"] if value.get("no_client_names") == "true" else []
    kinds = unconfirmed(text, confirmed)
    if kinds:
        errors.append(
            turn.t(
                "planning.charter.identifiers",
                kinds=identifier_kinds_text(kinds, locale=turn.info.locale),
            )
        )
    if errors:
        card = build_charter_form_card(
            form,
            community_name=community.name,
            locale=turn.info.locale,
            errors=errors,
            ask_names=IdentifierKind.NAME in kinds,
        )
        await turn.replace_clicked(card)
        return
    charter = Charter(
        domain=form.domain,
        objectives=_lines(form.objectives),
        theme=form.theme,
        audience=form.audience,
        cadence=form.cadence,
        usual_mode=MeetingMode(form.mode),
        rules=_lines(form.rules),
    )
    try:
        async with transaction(turn.sessions) as session:
            saved, changed = await planning.update_charter(
                session, community_id=community.id, by_person_id=turn.person_id, charter=charter
            )
            page = await load_one_pager(session, saved, now=turn.clock())
    except NotAllowed:
        await turn.say("plan.animators_only")
        return
    await turn.replace_clicked(
        build_one_pager_card(page, locale=turn.info.locale, tz=turn.info.timezone)
    )
    await turn.say("planning.charter.saved" if changed else "planning.charter.unchanged")


# -- the yearly needs survey -----------------------------------------------------------------


async def propose_needs_surveys(context: JobContext) -> int:
    """Queue « C'est le moment du sondage des besoins annuel » to each facilitator of every
    community due one (none opened, none proposed, in twelve months), for office hours. Once
    per community, year and person, whoever runs it and however often."""
    now = context.now()
    settings = context.settings
    not_before = planning.office_hours(
        now, tz=settings.timezone, non_working=settings.extra_non_working_days
    )
    year = now.astimezone(UTC).year
    queued = 0
    async with transaction(context.sessions) as session:
        for community in await planning.communities_due_needs_survey(session, now=now):
            assert community.id is not None
            for person in await communities.people_with_role(
                session, community_id=community.id, roles=[Role.ANIMATOR]
            ):
                assert person.id is not None
                queued += await outbox.enqueue(
                    session,
                    dedup_key=planning.needs_due_key(community.id, year, person.id),
                    recipient=outbox.Recipient.person(person.id),
                    kind=planning.KIND_NEEDS_DUE,
                    params={"community_id": community.id},
                    not_before=not_before,
                )
    if queued:
        logger.info("queued %d needs survey proposal(s)", queued)
        context.wake()
    return queued


async def _needs_due_card(
    sessions: SessionFactory,
    *,
    community_id: int,
    person_id: int,
    now: datetime,
    locale: str,
    tz: str,
) -> dict[str, Any] | None:
    """The proposal as things stand; None once the person no longer animates the community or
    a needs survey was launched meanwhile."""
    async with sessions() as session:
        community = await communities.get_community(session, community_id=community_id)
        if community is None or community.id is None:
            return None
        if not await planning.is_facilitator(
            session, community_id=community.id, person_id=person_id
        ):
            return None
        if not await planning.needs_survey_due(session, community_id=community.id, now=now):
            return None
        previous = await planning.previous_needs_survey(session, community_id=community.id, now=now)
        shown = (
            await surveys.results(session, survey_id=previous.id, now=now)
            if previous is not None and previous.id is not None
            else None
        )
        invitees = await surveys.consenting_members(session, community_id=community.id)
    return build_needs_due_card(
        community=community.name,
        community_id=community.id,
        previous=shown,
        invitees=len(invitees),
        locale=locale,
        tz=tz,
    )


async def render_needs_due(context: RenderContext) -> Activity | None:
    community_id = as_int(context.message.params.get("community_id"))
    person_id = context.message.person_id
    if community_id is None or person_id is None:
        return None
    card = await _needs_due_card(
        context.sessions,
        community_id=community_id,
        person_id=person_id,
        now=context.now,
        locale=context.locale,
        tz=context.timezone,
    )
    return None if card is None else card_activity(card)


async def _on_needs_later(turn: FeatureTurn, value: dict[str, Any]) -> None:
    """« Plus tard »: the proposal comes back once, NEEDS_LATER from now (a double click, or
    both buttons of two copies, queue it once)."""
    community_id = as_int(value.get("community_id"))
    if community_id is None or turn.info.person_id is None:
        await turn.say("error.unknown_action")
        return
    now = turn.clock()
    async with transaction(turn.sessions) as session:
        community = await communities.get_community(session, community_id=community_id)
        if community is None or not await planning.is_facilitator(
            session, community_id=community_id, person_id=turn.person_id
        ):
            await turn.say("surveys.animators_only")
            return
        if not await planning.needs_survey_due(session, community_id=community_id, now=now):
            await turn.say("planning.needs_due.already_launched", community=community.name)
            return
        key = planning.needs_later_key(community_id, now.astimezone(UTC).year, turn.person_id)
        queued = await outbox.enqueue(
            session,
            dedup_key=key,
            recipient=outbox.Recipient.person(turn.person_id),
            kind=planning.KIND_NEEDS_DUE,
            params={"community_id": community_id},
            not_before=planning.office_hours(
                now + planning.NEEDS_LATER,
                tz=turn.settings.timezone,
                non_working=turn.settings.extra_non_working_days,
            ),
        )
        again_at = None if queued else await planning.queued_at(session, dedup_key=key)
    if queued:
        await turn.context.send_activity(
            plural(
                turn.info.locale,
                "planning.needs_due.later_done",
                planning.NEEDS_LATER.days,
                community=community.name,
            )
        )
    elif again_at is not None and again_at > now:
        # A second click: the one reminder is already planned.
        day = format_day(again_at, locale=turn.info.locale, tz=turn.info.timezone)
        await turn.say("planning.needs_due.later_already", day=day)
    else:
        # « Plus tard » on the reminder itself: it came back once, it does not nag.
        await turn.say("planning.needs_due.later_no_more", community=community.name)


async def _on_cancel(turn: FeatureTurn, _value: dict[str, Any]) -> None:
    await turn.say("dialog.cancelled")


# The planning cards' buttons (`planning.*`), as bot/features/planning.py declares them.
ACTIONS: Mapping[str, VerbHandler] = MappingProxyType(
    {
        VERB_SERIES_RESIZE: _on_series_resize,
        VERB_SERIES_CREATE: _on_series_create,
        VERB_SERIES_COMPLETE: _on_series_complete,
        VERB_SERIES_SHOW: _on_series_show,
        VERB_POLL_CREATE: _on_poll_create,
        VERB_CHARTER_SAVE: _on_charter_save,
        VERB_NEEDS_LATER: _on_needs_later,
        VERB_CANCEL: _on_cancel,
    }
)
