"""Logs, traces and metrics: what an operator sees of a running bot.

Logs: one line per record on standard error, human-readable in development, JSON in production
(`CARREFOUR_LOG_FORMAT`). Every line written while an HTTP turn runs carries the turn's
correlation id (`turn`): the trace id when tracing is on, so a log line leads to its trace in
Application Insights. No personal data: nothing here logs names, message text or Teams ids, and
JSON lines give an exception's type and stack but not its message, which may quote what a
person typed.

Traces and metrics: OpenTelemetry, exported to Azure Monitor when
APPLICATIONINSIGHTS_CONNECTION_STRING is set (the `monitor` extra). Off, `Telemetry` does
nothing and OpenTelemetry is not even imported: the bot pays no memory or time for it.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, TextIO

from aiohttp import web

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from bot.settings import Settings
    from storage.db import SessionFactory

logger = logging.getLogger(__name__)

LogFormat = Literal["text", "json"]

# Libraries that would log message bodies, SQL parameters or tokens (all personal data or
# secrets) at DEBUG or INFO: quiet even when the bot logs at DEBUG.
NOISY_LOGGERS = (
    # The Agents SDK logs conversation and user ids of every send at INFO.
    "microsoft_agents",
    "msal",
    "urllib3",
    "aiohttp.access",
    "alembic",
    "apscheduler",
    "sqlalchemy.engine",
    "aiosqlite",
    "asyncpg",
    "azure",
)

METER_NAME = "carrefour"
TURN_DURATION = "carrefour.turn.duration"
OUTBOX_MESSAGES = "carrefour.outbox.messages"
OUTBOX_OUTCOMES = "carrefour.outbox.outcomes"
THROTTLED = "carrefour.connector.throttled"
# Seconds, as OpenTelemetry's HTTP server duration advises; Teams gives a turn 15 s.
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15)
# How often each replica reads the outbox counts for the gauge (Azure exports every 60 s).
OUTBOX_REFRESH_SECONDS = 60.0
# Activity types Teams sends; anything else is counted as "other", so that a client inventing
# types cannot multiply the metric's series.
_ACTIVITY_TYPES = frozenset(
    {
        "message",
        "invoke",
        "conversationUpdate",
        "installationUpdate",
        "messageReaction",
        "messageUpdate",
        "messageDelete",
        "event",
        "typing",
    }
)


# -- the turn's correlation id ------------------------------------------------------------------


@dataclass(slots=True)
class TurnRecord:
    """What is known of the HTTP turn in progress: its correlation id, then its activity type
    once the body has been read."""

    correlation_id: str
    activity_type: str = "unknown"


_TURN: contextvars.ContextVar[TurnRecord | None] = contextvars.ContextVar(
    "carrefour_turn", default=None
)


def current_turn() -> TurnRecord | None:
    return _TURN.get()


def annotate_turn(*, activity_type: str | None) -> None:
    """Name the activity type of the turn in progress (for its metric and span)."""
    turn = _TURN.get()
    if turn is not None:
        turn.activity_type = activity_type if activity_type in _ACTIVITY_TYPES else "other"


# -- logs --------------------------------------------------------------------------------------


class _TurnFilter(logging.Filter):
    """Puts the turn's correlation id on every record (`-` outside a turn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        turn = _TURN.get()
        record.turn = turn.correlation_id if turn is not None else None
        # Short in development: enough to tell interleaved turns apart.
        record.turn_label = f" [{turn.correlation_id[:8]}]" if turn is not None else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, as log collectors (Container Apps, App Service) parse them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        turn = getattr(record, "turn", None)
        if turn is not None:
            entry["turn"] = turn
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = type(record.exc_info[1]).__qualname__
            entry["stack"] = _stack_without_messages(record.exc_info[1])
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def _stack_without_messages(error: BaseException) -> str:
    """The traceback with each exception's type and frames but not its message: a message may
    quote what a person typed (`invalid literal for int(): 'Léa'`). Causes are kept."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{type(current).__qualname__}")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    # Python prints the first cause first.
    return "\n\nwhile handling the above, another error:\n".join(reversed(parts))


def log_handler(log_format: LogFormat, stream: TextIO = sys.stderr) -> logging.Handler:
    """A handler writing `log_format` lines, each with the turn's correlation id."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(_TurnFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s%(turn_label)s: %(message)s")
        )
    return handler


# The SDK's activity model logs, at ERROR, the whole body of an activity it cannot parse
# (names, texts); bot/app.py answers such a request 400 and logs why without the body.
SILENCED_LOGGERS = ("microsoft_agents.activity",)


def quiet_noisy_loggers() -> None:
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for silenced in SILENCED_LOGGERS:
        logging.getLogger(silenced).setLevel(logging.CRITICAL)


def configure_logging(*, level: str, log_format: LogFormat, stream: TextIO = sys.stderr) -> None:
    """The process's logging. Like `logging.basicConfig`, a host that installed its own
    handlers (pytest) keeps them; the noisy libraries are quieted in any case."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(log_handler(log_format, stream))
        root.setLevel(level.upper())
    quiet_noisy_loggers()


# -- traces and metrics ---------------------------------------------------------------------


class Telemetry:
    """Telemetry switched off: every call does nothing. `OpenTelemetry` records for real."""

    enabled = False

    @contextmanager
    def turn_span(self) -> Iterator[str]:
        """A span around one HTTP turn; yields the turn's correlation id."""
        yield uuid.uuid4().hex

    def record_turn(self, seconds: float, *, activity_type: str, status: int) -> None:
        """One HTTP turn took `seconds` and was answered with `status`."""

    def count_throttled(self, *, path: Literal["reply", "outbox"]) -> None:
        """The Bot Connector answered 429 to a reply in a turn or to a proactive send."""

    def count_outbox(self, outcome: str) -> None:
        """A proactive message ended (`sent`, `dead`, `undeliverable`, `cancelled`)."""

    def start(self, sessions: SessionFactory) -> None:
        """Begin background work (refreshing the outbox counts)."""

    async def stop(self) -> None:
        """Flush what is still buffered and stop."""


NO_TELEMETRY = Telemetry()


class OpenTelemetry(Telemetry):
    """Records turns, outbox outcomes and throttling with the OpenTelemetry SDK, in providers
    of its own (several apps in one process, as in tests, do not share them)."""

    enabled = True

    def __init__(
        self,
        *,
        metric_readers: Sequence[MetricReader],
        span_processors: Sequence[SpanProcessor] = (),
        outbox_refresh_seconds: float = OUTBOX_REFRESH_SECONDS,
    ) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        # OTEL_SERVICE_NAME, when set, names the service (App Insights' cloud role name).
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "carrefour"}
        resource = Resource.create(attributes)
        self.meter_provider: MeterProvider = MeterProvider(
            metric_readers=list(metric_readers), resource=resource
        )
        self.tracer_provider: TracerProvider = TracerProvider(resource=resource)
        for processor in span_processors:
            self.tracer_provider.add_span_processor(processor)
        self._tracer = self.tracer_provider.get_tracer(METER_NAME)
        meter = self.meter_provider.get_meter(METER_NAME)
        self._turns = meter.create_histogram(
            TURN_DURATION,
            unit="s",
            description="Time to answer an incoming Teams activity (POST /api/messages)",
            explicit_bucket_boundaries_advisory=TURN_BUCKETS,
        )
        self._throttled = meter.create_counter(
            THROTTLED,
            unit="{response}",
            description="HTTP 429 answers from the Bot Connector",
        )
        self._outcomes = meter.create_counter(
            OUTBOX_OUTCOMES,
            unit="{message}",
            description="Proactive messages finished by this replica, by outcome",
        )
        meter.create_observable_gauge(
            OUTBOX_MESSAGES,
            callbacks=[self._observe_outbox],
            unit="{message}",
            description="Outbox rows by status (pending, sent, dead…), read from the database",
        )
        self._outbox_counts: dict[str, int] = {}
        self._refresh_seconds = outbox_refresh_seconds
        self._refreshing: asyncio.Task[None] | None = None

    @contextmanager
    def turn_span(self) -> Iterator[str]:
        from opentelemetry.trace import SpanKind

        with self._tracer.start_as_current_span("POST /api/messages", kind=SpanKind.SERVER) as span:
            yield format(span.get_span_context().trace_id, "032x")

    def record_turn(self, seconds: float, *, activity_type: str, status: int) -> None:
        from opentelemetry import trace

        attributes: dict[str, str | int] = {
            "carrefour.activity.type": activity_type,
            "http.response.status_code": status,
        }
        self._turns.record(seconds, attributes)
        span = trace.get_current_span()  # the turn's, when called within turn_span
        span.set_attributes(attributes)
        if status >= 500:
            span.set_status(trace.StatusCode.ERROR)

    def count_throttled(self, *, path: Literal["reply", "outbox"]) -> None:
        self._throttled.add(1, {"carrefour.send.path": path})

    def count_outbox(self, outcome: str) -> None:
        self._outcomes.add(1, {"carrefour.outbox.outcome": outcome})

    def _observe_outbox(self, _options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        # Runs in the exporter's thread: it reads the last snapshot, never the database.
        return [
            Observation(count, {"carrefour.outbox.status": status})
            for status, count in self._outbox_counts.items()
        ]

    async def refresh_outbox(self, sessions: SessionFactory) -> None:
        """Read the outbox counts the gauge reports."""
        from storage.outbox import counts_by_status

        self._outbox_counts = dict(await counts_by_status(sessions))

    def start(self, sessions: SessionFactory) -> None:
        self._refreshing = asyncio.create_task(
            self._refresh_forever(sessions), name="telemetry-outbox"
        )

    async def _refresh_forever(self, sessions: SessionFactory) -> None:
        while True:
            try:
                await self.refresh_outbox(sessions)
            except Exception as error:  # the database may be down; the gauge keeps its last
                logger.warning("could not read the outbox counts (%s)", type(error).__name__)
            await asyncio.sleep(self._refresh_seconds)

    async def stop(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with suppress(asyncio.CancelledError):
                await self._refreshing
        # Exporting what is buffered may wait on the network: not on the event loop.
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def build_telemetry(settings: Settings) -> Telemetry:
    """Telemetry as the settings ask: exporting to Azure Monitor when a connection string is
    set, else nothing (and no OpenTelemetry import)."""
    if settings.applicationinsights_connection_string is None:
        return NO_TELEMETRY
    connection_string = settings.applicationinsights_connection_string.get_secret_value()
    # Settings refused to start without the `monitor` extra, so these imports succeed.
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorMetricExporter,
        AzureMonitorTraceExporter,
    )
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    telemetry = OpenTelemetry(
        metric_readers=[
            PeriodicExportingMetricReader(
                AzureMonitorMetricExporter(connection_string=connection_string)
            )
        ]
    )
    # The trace exporter reads the service's name from the provider; without it, from the
    # global one, which this module leaves alone.
    telemetry.tracer_provider.add_span_processor(
        BatchSpanProcessor(
            AzureMonitorTraceExporter(
                connection_string=connection_string, tracer_provider=telemetry.tracer_provider
            )
        )
    )
    return telemetry


# -- the HTTP turn --------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def observed_turns(handler: Handler, telemetry: Telemetry) -> Handler:
    """`handler` (POST /api/messages) with a correlation id for its log lines, a span and its
    duration recorded once per request, whatever the answer (refusals included)."""

    async def observed(request: web.Request) -> web.StreamResponse:
        with telemetry.turn_span() as correlation_id:
            turn = TurnRecord(correlation_id)
            token = _TURN.set(turn)
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as refusal:
                status = refusal.status
                raise
            finally:
                elapsed = time.perf_counter() - started
                telemetry.record_turn(elapsed, activity_type=turn.activity_type, status=status)
                logger.debug(
                    "turn %s answered %s in %.1f ms", turn.activity_type, status, elapsed * 1000
                )
                _TURN.reset(token)

    return observed
