"""One typed Settings object, read from the environment and `.env`.

Variable names follow the Bot Framework convention (`MicrosoftAppId`, …) so that the values an
operator copies from the Azure portal work unchanged; the rest are prefixed `CARREFOUR_`.
"""

from __future__ import annotations

import ipaddress
from datetime import date
from decimal import Decimal
from importlib.util import find_spec
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.secrets import MIN_KEY_LENGTH, key_problem, load_master_key
from storage.working_days import parse_non_working_days

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/carrefour.db"
# The outbox dispatcher stops sending from a batch this long before its lease ends (so no other
# replica claims a row still being sent): a lease must be longer, or nothing is ever sent.
OUTBOX_LEASE_MARGIN_SECONDS = 5.0
# The Agents SDK's environment names for the bot's credentials (its "service connection").
_SDK_CONNECTION = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")

    # Today's Azure Bot names first, then the Agents SDK's (docs/operations.md): either works.
    app_id: str | None = Field(
        None, validation_alias=AliasChoices("MicrosoftAppId", f"{_SDK_CONNECTION}CLIENTID")
    )
    app_password: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("MicrosoftAppPassword", f"{_SDK_CONNECTION}CLIENTSECRET"),
    )
    app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias="MicrosoftAppType"
    )
    app_tenant_id: str | None = Field(
        None, validation_alias=AliasChoices("MicrosoftAppTenantId", f"{_SDK_CONNECTION}TENANTID")
    )

    env: Literal["development", "test", "production"] = Field(
        "development", validation_alias="CARREFOUR_ENV"
    )
    timezone: str = Field("America/Montreal", validation_alias="CARREFOUR_TIMEZONE")
    default_locale: str = Field("fr-CA", validation_alias="CARREFOUR_DEFAULT_LOCALE")

    # Only this machine by default: `make run` serves an unauthenticated bot in development.
    # Containers and Azure set CARREFOUR_HOST=0.0.0.0 (docs/operations.md).
    host: str = Field("127.0.0.1", validation_alias="CARREFOUR_HOST")
    port: int = Field(3978, validation_alias=AliasChoices("CARREFOUR_PORT", "PORT"))
    # Inbound Teams activities are a few KB; 1 MiB leaves room for big card submissions while
    # refusing abuse with 413 before JSON parsing.
    max_request_bytes: int = Field(1_048_576, validation_alias="CARREFOUR_MAX_REQUEST_BYTES")
    # Teams posts its few KB at once; a body still incomplete after this long is a slow or
    # stalled client, cut off with 408 before it holds a turn (docs/decisions.md, Boundaries).
    request_body_timeout_seconds: float = Field(
        10, gt=0, le=300, validation_alias="CARREFOUR_REQUEST_BODY_TIMEOUT_SECONDS"
    )
    # Messages and card clicks one person may send (all conversations together) per sliding
    # window, per replica; above it, one polite word, then the rest of the window is dropped.
    inbound_per_person_limit: int = Field(
        40, ge=1, validation_alias="CARREFOUR_INBOUND_PER_PERSON_LIMIT"
    )
    inbound_window_seconds: float = Field(
        10, gt=0, le=3600, validation_alias="CARREFOUR_INBOUND_WINDOW_SECONDS"
    )
    # Where the Bot Connector's signing keys are published. Only sovereign clouds and tests
    # change it; the SDK default is the public cloud's.
    openid_metadata_url: str | None = Field(None, validation_alias="CARREFOUR_OPENID_METADATA_URL")
    processed_activity_retention_hours: int = Field(
        48, validation_alias="CARREFOUR_PROCESSED_ACTIVITY_RETENTION_HOURS"
    )
    # Turns (docs/decisions.md, Claims and idempotency). A turn holds its activity, and with
    # it its sender's turns in the conversation, under a lease this long, renewed while it
    # runs: a process killed mid-turn frees them this long after, and Teams' retry is processed.
    turn_lease_seconds: float = Field(
        5, gt=0, le=60, validation_alias="CARREFOUR_TURN_LEASE_SECONDS"
    )
    # Teams waits 15 s for a turn. Within this budget a turn waits for the one before it (same
    # person, same conversation) and retries replies Teams throttles; a reply still refused
    # then goes to the outbox.
    turn_budget_seconds: float = Field(
        12, gt=0, le=15, validation_alias="CARREFOUR_TURN_BUDGET_SECONDS"
    )
    log_level: str = Field("INFO", validation_alias="CARREFOUR_LOG_LEVEL")
    # One JSON object per line for log collectors in production; readable lines elsewhere.
    log_format: Literal["text", "json"] = Field(
        default_factory=lambda data: "json" if data["env"] == "production" else "text",
        validation_alias="CARREFOUR_LOG_FORMAT",
    )
    # Traces and metrics to Azure Monitor / Application Insights (bot/observability.py); unset,
    # telemetry is off and costs nothing. The variable is the one Azure's own tools read.
    applicationinsights_connection_string: SecretStr | None = Field(
        None, validation_alias="APPLICATIONINSIGHTS_CONNECTION_STRING"
    )

    # Proactive delivery (the outbox). Limits default to Microsoft's published bot limits.
    outbox_per_conversation_per_second: int = Field(
        7, ge=1, validation_alias="CARREFOUR_OUTBOX_PER_CONVERSATION_PER_SECOND"
    )
    outbox_per_conversation_per_30s: int = Field(
        60, ge=1, validation_alias="CARREFOUR_OUTBOX_PER_CONVERSATION_PER_30S"
    )
    outbox_per_tenant_per_second: int = Field(
        50, ge=1, validation_alias="CARREFOUR_OUTBOX_PER_TENANT_PER_SECOND"
    )
    outbox_max_attempts: int = Field(8, ge=1, validation_alias="CARREFOUR_OUTBOX_MAX_ATTEMPTS")
    outbox_lease_seconds: float = Field(60, gt=0, validation_alias="CARREFOUR_OUTBOX_LEASE_SECONDS")
    outbox_batch_size: int = Field(100, ge=1, validation_alias="CARREFOUR_OUTBOX_BATCH_SIZE")
    # Sends in flight: 25 send a tenant's 50 a second in two round trips (bot/dispatcher.py).
    outbox_concurrency: int = Field(25, ge=1, validation_alias="CARREFOUR_OUTBOX_CONCURRENCY")
    outbox_poll_seconds: float = Field(5, gt=0, validation_alias="CARREFOUR_OUTBOX_POLL_SECONDS")
    outbox_backoff_base_seconds: float = Field(
        2, gt=0, validation_alias="CARREFOUR_OUTBOX_BACKOFF_BASE_SECONDS"
    )
    outbox_backoff_max_seconds: float = Field(
        600, gt=0, validation_alias="CARREFOUR_OUTBOX_BACKOFF_MAX_SECONDS"
    )
    outbox_retention_days: int = Field(
        400, ge=1, validation_alias="CARREFOUR_OUTBOX_RETENTION_DAYS"
    )
    # Reminder offsets before a meeting, ISO 8601 durations (J-7, J-1, H-1); communities may
    # override them in their settings.
    reminder_offsets: list[str] = Field(
        ["P7D", "P1D", "PT1H"], validation_alias="CARREFOUR_REMINDER_OFFSETS"
    )
    # Derives anonymous voter keys and signed links (storage/secrets.py). Required in
    # production, where it comes from a secret store; never kept in the database.
    secret_key: SecretStr | None = Field(None, validation_alias="CARREFOUR_SECRET_KEY")
    # Without CARREFOUR_SECRET_KEY (development, tests): the file the bot makes its key in,
    # outside the database (mode 0600).
    secret_key_file: Path = Field(
        Path("var/secret.key"), validation_alias="CARREFOUR_SECRET_KEY_FILE"
    )
    # Public base URL of the bot (for links to its own files: attestations, exports). Unset,
    # it is this machine at the port served, so development links lead to the running bot.
    public_url: str = Field(
        default_factory=lambda data: local_public_url(data["port"]),
        validation_alias="CARREFOUR_PUBLIC_URL",
    )
    # Attestations de présence: continuing-education units per hour (0.1 UEC = 1 h in the
    # network) and how long a signed link to a certificate stays valid.
    uec_per_hour: Decimal = Field(
        Decimal("0.1"), gt=0, le=1, validation_alias="CARREFOUR_UEC_PER_HOUR"
    )
    attestation_link_days: int = Field(
        7, ge=1, le=366, validation_alias="CARREFOUR_ATTESTATION_LINK_DAYS"
    )
    # Satisfaction surveys open this long after a meeting ends, and stay open this long.
    survey_delay_minutes: int = Field(60, ge=0, validation_alias="CARREFOUR_SURVEY_DELAY_MINUTES")
    survey_duration_days: int = Field(7, ge=1, validation_alias="CARREFOUR_SURVEY_DURATION_DAYS")
    # Consultation requests: reminders to coordinators, then a word to the animators, after
    # this many working days unassigned; closed requests' summaries are erased after this long.
    consultation_reminder_working_days: int = Field(
        2, ge=1, validation_alias="CARREFOUR_CONSULTATION_REMINDER_WORKING_DAYS"
    )
    consultation_escalation_working_days: int = Field(
        5, ge=1, validation_alias="CARREFOUR_CONSULTATION_ESCALATION_WORKING_DAYS"
    )
    # Days off besides weekends and Quebec's statutory holidays (26 December, a local closure):
    # comma-separated ISO dates. Working-day delays (consultations) skip them.
    extra_non_working_days: Annotated[tuple[date, ...], NoDecode] = Field(
        (), validation_alias="CARREFOUR_EXTRA_NON_WORKING_DAYS"
    )
    consultation_retention_days: int = Field(
        365, ge=1, validation_alias="CARREFOUR_CONSULTATION_RETENTION_DAYS"
    )
    # A mentor proposal left unanswered this many days expires; the request goes back to the
    # coordination with fresh suggestions.
    mentor_proposal_days: int = Field(
        5, ge=1, le=60, validation_alias="CARREFOUR_MENTOR_PROPOSAL_DAYS"
    )
    # Tests and one-off CLI commands run without the background scheduler.
    scheduler_enabled: bool = Field(True, validation_alias="CARREFOUR_SCHEDULER_ENABLED")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        # An unknown zone fails at start, not at 9:00 on the 1st of the month.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("extra_non_working_days", mode="before")
    @classmethod
    def _iso_dates(cls, value: object) -> object:
        # A typo fails at start with the entry named, not silently on the next holiday.
        if isinstance(value, str):
            return parse_non_working_days(value)
        return value

    @model_validator(mode="after")
    def _refuse_settings_that_cannot_work(self) -> Self:
        # Found at start, with every problem named at once, rather than as a bot that never
        # sends, answers 401 to Teams or hands out links nobody can open.
        problems: list[str] = []
        if self.outbox_lease_seconds <= OUTBOX_LEASE_MARGIN_SECONDS:
            problems.append(
                f"CARREFOUR_OUTBOX_LEASE_SECONDS must be longer than the dispatcher's "
                f"{OUTBOX_LEASE_MARGIN_SECONDS:g}-second safety margin, or nothing is ever sent"
            )
        no_app_id = not (self.app_id or "").strip()
        if self.app_id and no_app_id:
            problems.append(
                "MicrosoftAppId holds only spaces: set the app registration's client ID, or "
                "leave it empty for local development"
            )
        elif self.env == "production" and no_app_id:
            problems.append(
                "CARREFOUR_ENV=production requires MicrosoftAppId: refusing to accept "
                "unauthenticated traffic"
            )
        password = self.app_password.get_secret_value() if self.app_password else ""
        if (
            not no_app_id
            and self.app_type in ("SingleTenant", "MultiTenant")
            and not password.strip()
        ):
            problems.append(f"MicrosoftAppType={self.app_type} needs MicrosoftAppPassword")
        if self.env == "production" and _local_url(self.public_url):
            problems.append(
                "CARREFOUR_ENV=production needs CARREFOUR_PUBLIC_URL set to the bot's public "
                "HTTPS address, not a local one: links in messages would lead nowhere"
            )
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        if self.env == "production" and key_problem(secret):
            problems.append(
                f"CARREFOUR_ENV=production requires CARREFOUR_SECRET_KEY of at least "
                f"{MIN_KEY_LENGTH} characters ({key_problem(secret)}), e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`: the key that "
                "keeps anonymous ballots anonymous must not live in the database"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("applicationinsights_connection_string", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty variable (a template's placeholder) means telemetry off, not a bad string.
        return value if value is not None and value.get_secret_value().strip() else None

    @model_validator(mode="after")
    def _exporter_installed(self) -> Self:
        # Refused at start rather than failing on the first export, or silently exporting
        # nothing while the operator believes telemetry is on.
        if self.applicationinsights_connection_string is not None and not _azure_monitor():
            raise ValueError(
                "APPLICATIONINSIGHTS_CONNECTION_STRING is set but the Azure Monitor exporter "
                "is not installed: install carrefour[monitor], or unset the variable"
            )
        return self

    @model_validator(mode="after")
    def _turn_lease_within_budget(self) -> Self:
        # A re-delivery waits at most the budget for a dead turn's lease to expire.
        if self.turn_lease_seconds >= self.turn_budget_seconds:
            raise ValueError(
                "CARREFOUR_TURN_LEASE_SECONDS must be shorter than CARREFOUR_TURN_BUDGET_SECONDS, "
                "or Teams' retry of a turn whose process died waits in vain"
            )
        return self

    def served_on(self, *, host: str, port: int) -> Self:
        """These settings for the address actually served (`carrefour serve --port`): links
        follow the port unless CARREFOUR_PUBLIC_URL says where the bot is reached."""
        update: dict[str, object] = {"host": host, "port": port}
        if "public_url" not in self.model_fields_set:
            update["public_url"] = local_public_url(port)
        return self.model_copy(update=update)

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)

    def master_key(self) -> bytes:
        """The key every keyed hash and signed link is derived from (storage/secrets.py)."""
        secret = self.secret_key.get_secret_value() if self.secret_key else None
        return load_master_key(configured=secret, key_file=self.secret_key_file)


def _azure_monitor() -> bool:
    """Whether the `monitor` extra is installed, looked up without importing it."""
    try:
        return find_spec("azure.monitor.opentelemetry.exporter") is not None
    except (ImportError, ValueError):  # a parent package missing or half-installed
        return False


def local_public_url(port: int) -> str:
    return f"http://localhost:{port}"


def _local_url(url: str) -> bool:
    """Whether a URL names this machine (or no host at all), so nobody else can open it."""
    host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: whether it resolves is the operator's business
    return address.is_loopback or address.is_unspecified


class ConfigurationError(RuntimeError):
    """The settings cannot run the bot (e.g. production without credentials)."""


def check_runnable(settings: Settings) -> None:
    # Production's app id and the password are checked when Settings is built
    # (Settings._refuse_settings_that_cannot_work).
    if settings.app_id and settings.app_type == "SingleTenant" and not settings.app_tenant_id:
        raise ConfigurationError("MicrosoftAppType=SingleTenant needs MicrosoftAppTenantId.")
    if settings.app_id and settings.app_type == "UserAssignedMSI" and not settings.app_tenant_id:
        raise ConfigurationError("MicrosoftAppType=UserAssignedMSI needs MicrosoftAppTenantId.")
