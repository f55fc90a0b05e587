"""Setting up a community in a team channel (`configurer`). See setup_dialog.mmd.

One form card holds every field, because in a channel each typed answer would need an
@mention; the card is validated on the server and sent again with hints until it is right.
"""

from __future__ import annotations

from dataclasses import dataclass

from microsoft_agents.hosting.core import CardFactory, MessageFactory
from microsoft_agents.hosting.dialogs import (
    DialogTurnResult,
    WaterfallDialog,
    WaterfallStepContext,
)
from microsoft_agents.hosting.dialogs.prompts import PromptOptions, PromptValidatorContext

from cards.community import SetupValues, build_one_pager_card, build_setup_form_card
from cards.i18n import Translate, translator
from dialogs.base import CancellableDialog, end
from dialogs.context import turn_info
from dialogs.form_prompt import CardFormPrompt
from dialogs.views import load_one_pager
from storage import communities
from storage.communities import CommunityDraft
from storage.db import SessionFactory, transaction
from storage.models import MeetingMode

SUBMIT = "communities.setup"
CANCEL = "communities.setup.cancel"
MAX_LIST_ITEMS = 12


@dataclass
class SetupOptions:
    tenant_id: str | None
    team_id: str | None
    teams_channel_id: str


def _lines(text: str) -> list[str]:
    return [line.strip(" -•\t") for line in text.splitlines() if line.strip(" -•\t")]


def parse_setup(
    values: dict[str, object], t: Translate
) -> tuple[SetupValues, CommunityDraft | None, list[str]]:
    """The form's values, the draft when valid, and what to fix otherwise."""

    def text(key: str) -> str:
        value = values.get(key)
        return value.strip() if isinstance(value, str) else ""

    form = SetupValues(
        name=text("name"),
        domain=text("domain"),
        objectives=text("objectives"),
        theme=text("theme"),
        audience=text("audience"),
        cadence=text("cadence"),
        mode=text("mode") or MeetingMode.HYBRID.value,
        rules=text("rules"),
    )
    errors: list[str] = []
    if not 3 <= len(form.name) <= 200:
        errors.append(t("setup.error.name"))
    objectives = _lines(form.objectives)
    if not objectives:
        errors.append(t("setup.error.objectives"))
    if len(objectives) > MAX_LIST_ITEMS or len(_lines(form.rules)) > MAX_LIST_ITEMS:
        errors.append(t("setup.error.too_many", count=MAX_LIST_ITEMS))
    if form.mode not in {mode.value for mode in MeetingMode}:
        errors.append(t("setup.error.mode"))
    if len(form.domain) > 2000 or any(len(v) > 500 for v in (form.theme, form.audience)):
        errors.append(t("setup.error.too_long"))
    if errors:
        return form, None, errors
    draft = CommunityDraft(
        name=form.name,
        domain=form.domain,
        objectives=objectives,
        theme=form.theme,
        audience=form.audience,
        cadence=form.cadence[:200],
        usual_mode=MeetingMode(form.mode),
        rules=_lines(form.rules),
    )
    return form, draft, []


class SetupDialog(CancellableDialog):
    ID = "setup_dialog"
    WATERFALL_ID = "setup_dialog.steps"
    FORM_ID = "setup_dialog.form"

    def __init__(self, sessions: SessionFactory) -> None:
        super().__init__(self.ID)
        self._sessions = sessions
        self.add_dialog(CardFormPrompt(self.FORM_ID, frozenset({SUBMIT, CANCEL}), self._validate))
        self.add_dialog(WaterfallDialog(self.WATERFALL_ID, [self.form_step, self.save_step]))
        self._start_with(self.WATERFALL_ID)

    async def form_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        locale = turn_info(step.context).locale
        card = build_setup_form_card(SetupValues(), locale=locale)
        return await step.prompt(
            self.FORM_ID,
            PromptOptions(
                prompt=MessageFactory.attachment(CardFactory.adaptive_card(card)),
                retry_prompt=MessageFactory.text(translator(locale)("setup.retry")),
            ),
        )

    async def _validate(self, prompt: PromptValidatorContext) -> bool:
        t = translator(turn_info(prompt.context).locale)
        if not prompt.recognized.succeeded:
            prompt.options.retry_prompt = MessageFactory.text(t("setup.retry"))
            return False
        values = prompt.recognized.value
        assert isinstance(values, dict)  # CardFormPrompt succeeds with the form's fields
        if values.get("verb") == CANCEL:
            return True
        form, draft, errors = parse_setup(values, t)
        if draft is None:
            card = build_setup_form_card(
                form, locale=turn_info(prompt.context).locale, errors=errors
            )
            prompt.options.retry_prompt = MessageFactory.attachment(CardFactory.adaptive_card(card))
            return False
        return True

    async def save_step(self, step: WaterfallStepContext) -> DialogTurnResult:
        info = turn_info(step.context)
        t = translator(info.locale)
        values = step.result
        assert isinstance(values, dict)  # validated by the prompt
        if values.get("verb") == CANCEL:
            await step.context.send_activity(t("dialog.cancelled"))
            return await end(step)
        _form, draft, _errors = parse_setup(values, t)
        assert draft is not None  # validated by the prompt
        options = step.options
        assert isinstance(options, SetupOptions)  # given by the bot layer
        try:
            async with transaction(self._sessions) as session:
                community = await communities.create_community(
                    session,
                    draft=draft,
                    animator_id=info.person_id,
                    tenant_id=options.tenant_id,
                    team_id=options.team_id,
                    teams_channel_id=options.teams_channel_id,
                )
                page = await load_one_pager(session, community)
        except communities.AlreadyExists:
            # Someone else set this channel up while the form was open.
            await step.context.send_activity(t("setup.already_exists"))
            return await end(step)
        await step.context.send_activity(t("setup.done", name=community.name))
        card = build_one_pager_card(page, locale=info.locale, tz=info.timezone)
        await step.context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))
        return await end(step, community.id)
