"""Sharing a resource in a community's toolbox: which community, then one form card (title,
link, kind, themes, why it is useful, who may see it), checked on the server and sent again
with what to fix until it is right, then saved. See share_resource_dialog.mmd.

A form rather than one question per field: a link and a few short fields are filled faster in
one card (and a card's fields need no @mention), as Teams apps do. The bot layer starts it in
the person's 1:1 chat (bot/personal.py), so drafts stay private.

Refused before anything is stored, with a sentence in the person's language: a link that is not
http or https (javascript:, data:, file:…), missing or too long fields, and text that seems to
identify a client (the kinds spotted are named, never the text). The form carries its own key
(`request_key`): sent twice (a double click, or again after the dialog ended, which
bot/toolbox_flow.py answers with `submit_share`), it adds one resource.
`annuler` / `cancel`, or the form's « Annuler », ends it with nothing saved."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.prompts import (
    ChoicePrompt,
    PromptOptions,
    PromptValidatorContext,
)

from cards.common import Element
from cards.i18n import translator
from cards.toolbox import (
    INPUT_KIND,
    INPUT_THEMES,
    INPUT_TITLE,
    INPUT_URL,
    INPUT_VISIBILITY,
    INPUT_WHY,
    VERB_CANCEL,
    VERB_SHARE,
    build_resource_form_card,
    build_shared_card,
    identifiers_text,
    problem_texts,
)
from dialogs.base import (
    CancellableDialog,
    Candidate,
    choice,
    communities_to_choose,
    end,
    picked_if_asked,
    step_answers,
)
from dialogs.context import turn_info
from dialogs.form_prompt import CardFormPrompt
from storage import communities, toolbox
from storage.communities import NotAllowed
from storage.db import SessionFactory, transaction
from storage.identifiers import HasIdentifiers
from storage.models import Community, Resource, ResourceKind, ResourceVisibility, utcnow
from storage.toolbox import Draft, InvalidResource

logger = logging.getLogger(__name__)


@dataclass
class ShareResourceOptions:
    community_id: int | None = None


@dataclass
class ShareAnswers:
    """Kept in dialog state between turns."""

    community_id: int = 0
    community_name: str = ""
    request_key: str = ""
    candidates: list[Candidate] = field(default_factory=list)


def _text(values: dict[str, Any], key: str) -> str:
    value = values.get(key)
    return value if isinstance(value, str) else ""


def draft_from(values: dict[str, Any]) -> Draft:
    """The form's values as sent (anything not a string reads as empty)."""
    return Draft(
        title=_text(values, INPUT_TITLE),
        url=_text(values, INPUT_URL),
        kind=_text(values, INPUT_KIND) or ResourceKind.OTHER.value,
        themes=_text(values, INPUT_THEMES),
        why=_text(values, INPUT_WHY),
        visibility=_text(values, INPUT_VISIBILITY) or ResourceVisibility.COMMUNITY.value,
    )


def form_errors(draft: Draft, *, locale: str) -> list[str]:
    """What the person must fix, in their language (empty when the draft can be kept)."""
    errors = problem_texts(toolbox.draft_problems(draft), locale=locale)
    kinds = toolbox.spotted(draft)
    if kinds:
        errors.append(identifiers_text(kinds, locale=locale))
    return errors


def new_request_key() -> str:
    return uuid.uuid4().hex


async def suggested_themes(sessions: SessionFactory, community: Community) -> list[str]:
    """The community's own theme and the themes already used in its toolbox."""
    async with sessions() as session:
        rows = await toolbox.toolbox(session, community_id=community.id or 0)
    themes = toolbox.parse_themes([community.theme or "", *toolbox.themes_of(rows)])
    return [theme for theme in themes if len(theme) <= toolbox.MAX_THEME_LENGTH][:12]


async def form_card(
    sessions: SessionFactory,
    community: Community,
    *,
    locale: str,
    draft: Draft | None = None,
    request_key: str = "",
    resource_id: int | None = None,
    errors: list[str] | None = None,
) -> Element:
    return build_resource_form_card(
        draft or Draft(),
        community=community,
        locale=locale,
        request_key=request_key,
        resource_id=resource_id,
        suggestions=await suggested_themes(sessions, community),
        errors=errors or [],
    )


def _card(card: Element) -> Any:
    return MessageFactory.attachment(CardFactory.adaptive_card(card))


async def submit_share(
    sessions: SessionFactory, turn_context: TurnContext, values: dict[str, Any]
) -> Resource | None:
    """A sent share form: checked, screened and saved once per form key; the person reads the
    resource saved, what to fix (the form again, their values kept), or why not. Also where a
    form sent after its dialog ended (a second click) lands."""
    info = turn_info(turn_context)
    t = translator(info.locale)
    community_id = values.get("community_id")
    request_key = _text(values, "request_key")[: toolbox.MAX_REQUEST_KEY_LENGTH]
    if (
        info.person_id is None
        or not isinstance(community_id, int)
        or isinstance(community_id, bool)
    ):
        await turn_context.send_activity(t("error.unknown_action"))
        return None
    async with sessions() as session:
        community = await communities.get_community(session, community_id=community_id)
    if community is None:
        await turn_context.send_activity(t("error.unknown_action"))
        return None
    draft = draft_from(values)
    errors = form_errors(draft, locale=info.locale)
    if not errors:
        try:
            async with transaction(sessions) as session:
                resource, created = await toolbox.add_resource(
                    session,
                    community_id=community_id,
                    person_id=info.person_id,
                    title=draft.title,
                    url=draft.url,
                    kind=draft.kind,
                    themes=draft.themes,
                    why=draft.why,
                    visibility=draft.visibility,
                    request_key=request_key or None,
                    now=utcnow(),
                )
        except NotAllowed:
            await turn_context.send_activity(t("toolbox.share.not_member_here"))
            return None
        except InvalidResource as invalid:
            errors = problem_texts(invalid.reasons, locale=info.locale)
        except HasIdentifiers as found:
            errors = [identifiers_text(found.kinds, locale=info.locale)]
        else:
            if not created:
                await turn_context.send_activity(t("toolbox.share.already", title=resource.title))
                return resource
            await turn_context.send_activity(
                _card(build_shared_card(resource, community=community, locale=info.locale))
            )
            return resource
    card = await form_card(
        sessions,
        community,
        locale=info.locale,
        draft=draft,
        request_key=request_key or new_request_key(),
        errors=errors,
    )
    await turn_context.send_activity(_card(card))
    return None


class ShareResourceDialog(CancellableDialog):
    ID = "share_resource_dialog"
    WATERFALL_ID = "share_resource_dialog.steps"
    CHOICE_ID = "share_resource_dialog.choice"
    FORM_ID = "share_resource_dialog.form"
    RETRY_CHOICE = "toolbox.share.retry_choice"

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self.add_dialog(ChoicePrompt(self.CHOICE_ID))
        self.add_dialog(
            CardFormPrompt(self.FORM_ID, frozenset({VERB_SHARE, VERB_CANCEL}), self._validate)
        )
        self.add_dialog(
            WaterfallDialog(
                self.WATERFALL_ID, [self.community_step, self.form_step, self.save_step]
            )
        )
        self._start_with(self.WATERFALL_ID)

    async def community_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        t = self._t(step)
        options = (
            step.options
            if isinstance(step.options, ShareResourceOptions)
            else ShareResourceOptions()
        )
        answers = step_answers(step, ShareAnswers)
        mine = await communities_to_choose(
            self._sessions,
            person_id=turn_info(step.context).person_id,
            community_id=options.community_id,
        )
        if mine is None:
            await step.context.send_activity(t("toolbox.share.not_member_here"))
            return await end(step)
        if not mine:
            await step.context.send_activity(t("toolbox.not_member"))
            return await end(step)
        if len(mine) == 1:
            answers.community_id, answers.community_name = mine[0].id or 0, mine[0].name
            return await step.next(None)
        answers.candidates = [Candidate(c.id or 0, c.name) for c in mine]
        return await self._choose(
            step, t("toolbox.share.ask_community"), [choice(c.name) for c in mine]
        )

    async def form_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        info = turn_info(step.context)
        answers = step_answers(step, ShareAnswers)
        index = picked_if_asked(step)
        if index is not None:
            chosen = answers.candidates[index]
            answers.community_id, answers.community_name = chosen.community_id, chosen.name
        answers.request_key = new_request_key()
        async with self._sessions() as session:
            community = await communities.get_community(session, community_id=answers.community_id)
        if community is None:
            await step.context.send_activity(self._t(step)("error.unknown_action"))
            return await end(step)
        card = await form_card(
            self._sessions, community, locale=info.locale, request_key=answers.request_key
        )
        return await step.prompt(
            self.FORM_ID,
            PromptOptions(
                prompt=_card(card),
                retry_prompt=MessageFactory.text(self._t(step)("toolbox.share.retry")),
                validations={"community_id": answers.community_id},
            ),
        )

    async def _validate(self, prompt: PromptValidatorContext) -> bool:
        info = turn_info(prompt.context)
        t = translator(info.locale)
        if not prompt.recognized.succeeded:
            prompt.options.retry_prompt = MessageFactory.text(t("toolbox.share.retry"))
            return False
        values = prompt.recognized.value
        assert isinstance(values, dict)  # CardFormPrompt succeeds with the form's fields
        if values.get("verb") == VERB_CANCEL:
            return True
        draft = draft_from(values)
        errors = form_errors(draft, locale=info.locale)
        if not errors:
            return True
        checks = prompt.options.validations
        community_id = checks.get("community_id") if isinstance(checks, dict) else None
        async with self._sessions() as session:
            community = await communities.get_community(
                session, community_id=community_id if isinstance(community_id, int) else 0
            )
        if community is None:
            prompt.options.retry_prompt = MessageFactory.text(t("error.unknown_action"))
            return False
        card = await form_card(
            self._sessions,
            community,
            locale=info.locale,
            draft=draft,
            request_key=_text(values, "request_key") or new_request_key(),
            errors=errors,
        )
        prompt.options.retry_prompt = _card(card)
        return False

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        values = step.result
        assert isinstance(values, dict)  # validated by the prompt
        if values.get("verb") == VERB_CANCEL:
            await step.context.send_activity(self._t(step)("dialog.cancelled"))
            return await end(step)
        answers = step_answers(step, ShareAnswers)
        # The community is the one chosen in this dialog, whatever the card's data says.
        values = {**values, "community_id": answers.community_id}
        resource = await submit_share(self._sessions, step.context, values)
        return await end(step, resource.id if resource is not None else None)
