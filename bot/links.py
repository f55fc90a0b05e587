"""What the signed-link endpoints share (attestation PDFs, data exports, vitality CSVs): the
app's runtime and the plain-text answer a refused link gets."""

from __future__ import annotations

from aiohttp import web

from bot.settings import Settings
from storage.db import SessionFactory


def runtime_services(app: web.Application) -> tuple[SessionFactory, Settings]:
    # Imported here: bot.app imports the handler, which imports the feature modules.
    from bot.app import RUNTIME

    runtime = app[RUNTIME]
    return runtime.sessions, runtime.settings


def refusal(status: int, text: str) -> web.Response:
    """A refused or failed link: plain text in the person's language, never cached."""
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
