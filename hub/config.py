"""Settings of every sihub process: environment variables (``SIHUB_*``) or a TOML file (DESIGN §9)."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hub.bus.nodes import node_urls

#: The broker URL ``sihub demo`` uses when none is given: the in-process broker.
MEMORY_BROKER = "memory://"


#: How signatures are checked on what arrives: not at all, when present, or always.
SignatureMode = Literal["off", "optional", "required"]


class EnvOverFileSettings(BaseSettings):
    """Settings whose ``--config`` TOML file arrives as init values and the environment wins."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings


class Settings(EnvOverFileSettings):
    """One place for configuration; built by :func:`load_settings`, never at import time."""

    # hide_input_in_errors: a refused URL must not be echoed with its password.
    model_config = SettingsConfigDict(
        env_prefix="SIHUB_", extra="forbid", frozen=True, hide_input_in_errors=True
    )

    broker_url: str | None = Field(
        None,
        description="amqp://user:pass@host:5672/sihub (a cluster: its nodes' URLs, comma-separated) or memory://",
    )
    management_url: str | None = Field(
        None, description="RabbitMQ management API; default http://<host>:15672"
    )
    database_url: str = Field(
        "sqlite:///./sihub.db", description="SQLAlchemy URL of the case ledger"
    )
    sla_policy: Path | None = Field(
        None, description="SLA policy TOML; default the built-in legal defaults"
    )
    calendar: Path | None = Field(
        None, description="working-day calendar TOML; default the chinesecalendar seed"
    )
    tokens: Path | None = Field(
        None, description="JSON file mapping API tokens to department codes"
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    process_change_date: date = date(2024, 1, 1)
    county_code: str = Field("340322", pattern=r"^\d{6}$")
    uscc_exceptions: tuple[str, ...] = Field(
        (), description="credit codes accepted despite their checksum"
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    signatures: SignatureMode = "optional"
    signing_keys: Path | None = Field(
        None, description="JSON: key id → {department, public_key (base64)}"
    )
    hub_private_key: Path | None = Field(None, description="PEM Ed25519 key the hub signs with")
    prefetch: int = Field(256, ge=1, le=10_000)
    batch_size: int = Field(200, ge=1, le=5_000)
    retry_limit: int = Field(
        5, ge=0, description="redeliveries of an out-of-order message before quarantine"
    )
    retry_delay_seconds: float = Field(2.0, ge=0)
    scheduler_interval_seconds: float = Field(
        1.0, gt=0, description="longest wait between scheduler ticks (it wakes sooner for the next deadline)"
    )

    @field_validator("broker_url")
    @classmethod
    def _nodes_agree(cls, value: str | None) -> str | None:
        """Several nodes listed must be one cluster's: same user, password and vhost."""
        if value:
            node_urls(value)
        return value


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment over an optional TOML file, then ``overrides`` (not None)."""
    values: dict[str, Any] = {}
    if config is not None:
        with config.open("rb") as handle:
            data = tomllib.load(handle)
        values = {k.lower().removeprefix("sihub_"): v for k, v in data.get("sihub", data).items()}
    settings = Settings(**values)
    given = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=given) if given else settings
