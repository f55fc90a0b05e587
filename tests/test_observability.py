"""Logs, traces and metrics as an operator meets them: turns over HTTP, the outbox, settings."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlmodel import select

from bot.app import RUNTIME, TELEMETRY, create_app
from bot.cli import main
from bot.observability import (
    NO_TELEMETRY,
    OUTBOX_MESSAGES,
    OUTBOX_OUTCOMES,
    THROTTLED,
    TURN_DURATION,
    JsonFormatter,
    OpenTelemetry,
    log_handler,
    quiet_noisy_loggers,
)
from storage import outbox
from storage.db import transaction
from storage.models import ConversationRef
from tests.activities import TENANT, message, user
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector

Client = TestClient[web.Request, web.Application]

# Someone who tells the bot their name and something personal, in a channel of their team.
NAME = "Geneviève Bouchard-Lalonde"
TEXT = "Bonjour, mon numéro de dossier est 4471 et je travaille au CLSC Rosemont"
SENDER = user(7, name=NAME)
CONVERSATION = "19:private-channel-of-geneviève@thread.tacv2"
PERSONAL_DATA = (
    NAME,
    "Geneviève",
    "Bouchard",
    TEXT,
    "4471",
    "Rosemont",
    SENDER["id"],
    SENDER["aadObjectId"],
    CONVERSATION,
    TENANT,
)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything logged, at DEBUG, as production writes it (JSON, noisy libraries quiet)."""
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    names = list(logging.root.manager.loggerDict)
    levels = {name: logging.getLogger(name).level for name in names}
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet_noisy_loggers()
    yield stream
    root.removeHandler(handler)
    root.setLevel(root_level)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class Recorded:
    """Telemetry recorded in memory, as Azure Monitor would receive it."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.spans = InMemorySpanExporter()
        self.telemetry = OpenTelemetry(
            metric_readers=[self.reader], span_processors=[SimpleSpanProcessor(self.spans)]
        )

    def points(self, name: str) -> list[Any]:
        data: MetricsData | None = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
async def observed_client(sqlite_url: str, recorded: Recorded) -> AsyncIterator[Client]:
    app = create_app(make_settings(sqlite_url), telemetry=recorded.telemetry)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_json_log_lines_carry_the_turn_id_and_no_personal_data(
    bot_client: Client, connector: FakeConnector, json_logs: io.StringIO
) -> None:
    said = message(
        TEXT,
        service_url=connector.url,
        sender=SENDER,
        conversation_id=CONVERSATION,
        conversation_type="channel",
        mention_bot=True,
    )
    assert (await bot_client.post("/api/messages", json=said)).status in (200, 201)
    # A card click the bot does not know: a line logged in the middle of the turn.
    click = message(
        None,
        service_url=connector.url,
        sender=SENDER,
        value={"verb": "nothing.like.this"},
    )
    assert (await bot_client.post("/api/messages", json=click)).status in (200, 201)

    logged = lines(json_logs)
    answered = [line for line in logged if line["message"].startswith("turn message answered")]
    assert len(answered) == 2
    turn_ids = [line["turn"] for line in answered]
    assert all(len(turn) == 32 for turn in turn_ids)
    assert turn_ids[0] != turn_ids[1]
    unknown = [line for line in logged if line["message"].startswith("unknown card verb")]
    assert [line["turn"] for line in unknown] == [turn_ids[1]]
    assert {"time", "level", "logger", "message"} <= set(unknown[0])
    text = json_logs.getvalue()
    assert [word for word in PERSONAL_DATA if word in text] == []


def test_json_lines_give_an_error_type_and_stack_but_not_its_message() -> None:
    # An exception message may quote what a person typed.
    try:
        try:
            int(NAME)
        except ValueError as error:
            raise RuntimeError(f"could not read {TEXT}") from error
    except RuntimeError:
        record = logging.LogRecord(
            "bot.handler", logging.ERROR, __file__, 1, "turn failed", (), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "turn failed"
    assert line["error"] == "RuntimeError"
    assert "ValueError" in line["stack"]
    assert "test_json_lines_give_an_error_type" in line["stack"]
    assert [word for word in PERSONAL_DATA if word in json.dumps(line)] == []


async def test_a_turn_records_its_latency_once_and_a_429_is_counted(
    observed_client: Client, connector: FakeConnector, recorded: Recorded, json_logs: io.StringIO
) -> None:
    # Teams refuses the reply once, then takes it: the turn sends it again.
    connector.throttle_next(1, retry_after=0)
    said = message("aide", service_url=connector.url, sender=SENDER)
    assert (await observed_client.post("/api/messages", json=said)).status in (200, 201)
    assert [received.status for received in connector.received] == [429, 200]

    (latency,) = recorded.points(TURN_DURATION)
    assert latency.count == 1
    assert latency.sum > 0
    assert dict(latency.attributes) == {
        "carrefour.activity.type": "message",
        "http.response.status_code": 201,
    }
    (throttled,) = recorded.points(THROTTLED)
    assert (throttled.value, dict(throttled.attributes)) == (1, {"carrefour.send.path": "reply"})
    # One span per turn, whose trace id is the correlation id of the turn's log lines.
    (span,) = recorded.spans.get_finished_spans()
    assert span.name == "POST /api/messages"
    assert span.attributes is not None
    assert span.attributes["carrefour.activity.type"] == "message"
    trace_id = format(span.context.trace_id, "032x")
    assert {line.get("turn") for line in lines(json_logs) if "turn" in line} == {trace_id}

    # A request refused before it is a turn is timed too, under its status.
    refused = await observed_client.post("/api/messages", json={"type": "message"})
    assert refused.status == 400
    by_status = {
        point.attributes["http.response.status_code"]: point.count
        for point in recorded.points(TURN_DURATION)
    }
    assert by_status == {201: 1, 400: 1}


async def test_outbox_counts_and_outcomes(
    observed_client: Client, connector: FakeConnector, recorded: Recorded
) -> None:
    said = message("aide", service_url=connector.url, sender=SENDER)
    await observed_client.post("/api/messages", json=said)
    runtime = observed_client.app[RUNTIME]
    async with transaction(runtime.sessions) as session:
        conversation = (await session.exec(select(ConversationRef))).one()
        for number in (1, 2):
            await outbox.enqueue(
                session,
                dedup_key=f"observed:{number}",
                recipient=outbox.Recipient.conversation(conversation.id or 0),
                kind=outbox.KIND_REPLY,
                params={"activity": {"type": "message", "text": f"note {number}"}},
            )
    telemetry = observed_client.app[TELEMETRY]
    assert isinstance(telemetry, OpenTelemetry)
    await telemetry.refresh_outbox(runtime.sessions)
    gauge = {
        p.attributes["carrefour.outbox.status"]: p.value for p in recorded.points(OUTBOX_MESSAGES)
    }
    assert gauge["pending"] == 2
    assert gauge["sent"] == gauge["dead"] == 0

    # One of the two is refused (429) and waits for its retry; the other is sent.
    connector.throttle_next(1, retry_after=30)
    assert await runtime.dispatcher.dispatch_once() == 2
    (sent,) = recorded.points(OUTBOX_OUTCOMES)
    assert (sent.value, dict(sent.attributes)) == (1, {"carrefour.outbox.outcome": "sent"})
    throttled = {p.attributes["carrefour.send.path"]: p.value for p in recorded.points(THROTTLED)}
    assert throttled == {"outbox": 1}
    await telemetry.refresh_outbox(runtime.sessions)
    gauge = {
        p.attributes["carrefour.outbox.status"]: p.value for p in recorded.points(OUTBOX_MESSAGES)
    }
    assert (gauge["pending"], gauge["sent"]) == (1, 1)


async def test_telemetry_is_off_by_default(bot_client: Client) -> None:
    assert bot_client.app[TELEMETRY] is NO_TELEMETRY


def test_off_no_exporter_is_even_imported(tmp_path: Path) -> None:
    # A process of its own: this one imported OpenTelemetry for the tests above. The Agents
    # SDK imports OpenTelemetry's API and SDK itself; what telemetry switched off must not load
    # is any exporter (Azure Monitor, OTLP).
    script = f"""
import asyncio, sys
from aiohttp.test_utils import TestClient, TestServer
from bot.app import create_app
from bot.settings import Settings

async def serve_one_request():
    settings = Settings(
        _env_file=None,
        DATABASE_URL="sqlite+aiosqlite:///{tmp_path}/off.db",
        CARREFOUR_ENV="production",
        MicrosoftAppId="00000000-0000-0000-0000-00000000000a",
        MicrosoftAppPassword="not-used",
        MicrosoftAppTenantId="{TENANT}",
        CARREFOUR_PUBLIC_URL="https://carrefour.example.org",
        CARREFOUR_SECRET_KEY="k" * 48,
        CARREFOUR_SCHEDULER_ENABLED=False,
    )
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    # Refused (no token), but timed and logged like any request.
    assert (await client.post("/api/messages", json={{"type": "message"}})).status == 400
    await client.close()

asyncio.run(serve_one_request())
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.exporter", "azure.monitor")))
print(loaded)
"""
    from storage.migrate import upgrade

    upgrade(f"sqlite+aiosqlite:///{tmp_path}/off.db", "head")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_connection_string_without_the_exporter_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=0000")
    # As when the `monitor` extra is not installed.
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry.exporter", None)
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("error: invalid configuration: ")
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING is set but the Azure Monitor exporter" in error
    assert "carrefour[monitor]" in error
    assert "InstrumentationKey" not in error
