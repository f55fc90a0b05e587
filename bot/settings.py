"""One typed Settings object, read from the environment and `.env`.

Variable names follow the Bot Framework convention (`MicrosoftAppId`, …) so that the values an
operator copies from the Azure portal work unchanged; the rest are prefixed `CARREFOUR_`.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/carrefour.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")

    app_id: str | None = Field(None, validation_alias="MicrosoftAppId")
    app_password: SecretStr | None = Field(None, validation_alias="MicrosoftAppPassword")
    app_type: Literal["SingleTenant", "MultiTenant", "UserAssignedMSI"] = Field(
        "SingleTenant", validation_alias="MicrosoftAppType"
    )
    app_tenant_id: str | None = Field(None, validation_alias="MicrosoftAppTenantId")

    env: Literal["development", "test", "production"] = Field(
        "development", validation_alias="CARREFOUR_ENV"
    )
    timezone: str = Field("America/Montreal", validation_alias="CARREFOUR_TIMEZONE")
    default_locale: str = Field("fr-CA", validation_alias="CARREFOUR_DEFAULT_LOCALE")

    host: str = Field("0.0.0.0", validation_alias="CARREFOUR_HOST")
    port: int = Field(3978, validation_alias=AliasChoices("CARREFOUR_PORT", "PORT"))
    # Inbound Teams activities are a few KB; 1 MiB leaves room for big card submissions while
    # refusing abuse with 413 before JSON parsing.
    max_request_bytes: int = Field(1_048_576, validation_alias="CARREFOUR_MAX_REQUEST_BYTES")
    # Where the Bot Connector's signing keys are published. Only sovereign clouds and tests
    # change it; the SDK default is the public cloud's.
    openid_metadata_url: str | None = Field(None, validation_alias="CARREFOUR_OPENID_METADATA_URL")
    processed_activity_retention_hours: int = Field(
        48, validation_alias="CARREFOUR_PROCESSED_ACTIVITY_RETENTION_HOURS"
    )
    log_level: str = Field("INFO", validation_alias="CARREFOUR_LOG_LEVEL")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        # An unknown zone fails at start, not at 9:00 on the 1st of the month.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def auth_enabled(self) -> bool:
        return bool(self.app_id)


class ConfigurationError(RuntimeError):
    """The settings cannot run the bot (e.g. production without credentials)."""


def check_runnable(settings: Settings) -> None:
    if settings.env == "production" and not settings.app_id:
        raise ConfigurationError(
            "CARREFOUR_ENV=production requires MicrosoftAppId (and its password or managed "
            "identity): refusing to accept unauthenticated traffic."
        )
    if settings.app_id and settings.app_type == "SingleTenant":
        missing = [
            name
            for name, value in (
                ("MicrosoftAppPassword", settings.app_password),
                ("MicrosoftAppTenantId", settings.app_tenant_id),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                "MicrosoftAppType=SingleTenant needs " + " and ".join(missing) + " as well."
            )
    if settings.app_id and settings.app_type == "UserAssignedMSI" and not settings.app_tenant_id:
        raise ConfigurationError("MicrosoftAppType=UserAssignedMSI needs MicrosoftAppTenantId.")
