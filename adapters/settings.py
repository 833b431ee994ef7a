"""Adapter configuration: environment variables, or a TOML file given with ``--config``.

Environment beats the file. Variables (the file uses the same names, with or without
the ``SIHUB_`` or ``SIHUB_ADAPTER_`` prefix, at top level or under ``[adapter]``):

====================================  ======================================================
``SIHUB_BROKER_URL``                  ``amqp://tax:tax-dev@host:5672/sihub`` or ``memory://tax@``
``SIHUB_ADAPTER_SINK``                ``webhook:https://…`` | ``inbox:/path`` | ``none``
``SIHUB_ADAPTER_WEBHOOK_SECRET``      HMAC secret of ``X-Sihub-Signature`` (webhook sink)
``SIHUB_ADAPTER_HTTP_HOST`` / ``_PORT``  where ``POST /outbound`` listens (no port: no HTTP)
``SIHUB_ADAPTER_OUTBOX_DIR``          directory watched for outbound JSON files
``SIHUB_ADAPTER_STATE``               SQLite file of delivered ids and local records
``SIHUB_ADAPTER_SIGNING_KEY``         PEM Ed25519 private key: sign what the adapter sends
``SIHUB_ADAPTER_HUB_KEYS``            key ring JSON of the hub's public keys: verify what arrives
``SIHUB_ADAPTER_HUB_SIGNATURES``      ``optional`` (default: verify a signature that is there) |
                                      ``required`` (unsigned is quarantined too) | ``off``
====================================  ======================================================
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from contracts import MAX_BODY_BYTES
from hub.bus.nodes import node_urls
from hub.config import EnvOverFileSettings, SignatureMode

#: Room left under the hub's body limit for what a batch's size estimate cannot see.
BATCH_HEADROOM_BYTES = 64 * 1024

SinkKind = Literal["webhook", "inbox", "none"]


@dataclass(frozen=True)
class SinkSpec:
    """A parsed ``SIHUB_ADAPTER_SINK``: the kind and its URL or directory."""

    kind: SinkKind
    target: str = ""


def parse_sink(spec: str) -> SinkSpec:
    """``webhook:https://…``, ``inbox:/path`` or ``none``.

    Raises:
        ValueError: any other form, naming the accepted ones.
    """
    kind, _, target = spec.strip().partition(":")
    if kind == "none" and not target:
        return SinkSpec("none")
    if kind == "webhook" and target.startswith(("http://", "https://")):
        return SinkSpec("webhook", target)
    if kind == "inbox" and target:
        return SinkSpec("inbox", target)
    raise ValueError(
        f"SIHUB_ADAPTER_SINK {spec!r}: use webhook:https://host/path, inbox:/directory or none"
    )


class AdapterSettings(EnvOverFileSettings):
    """Settings of one adapter process; built by :func:`load_adapter_settings`.

    Field names are the variable names without ``SIHUB_`` (``adapter_sink`` is
    ``SIHUB_ADAPTER_SINK``), so that the broker URL is the same variable as the hub's.
    """

    # hide_input_in_errors: a refused broker URL or webhook secret must not be echoed.
    model_config = SettingsConfigDict(
        env_prefix="SIHUB_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    broker_url: str = "memory://"
    adapter_sink: str = Field("none", description="webhook:https://… | inbox:/path | none")
    adapter_webhook_secret: SecretStr | None = None
    adapter_webhook_timeout_seconds: float = Field(10.0, gt=0)
    adapter_http_host: str = "127.0.0.1"
    adapter_http_port: int | None = Field(None, ge=0, le=65535)
    adapter_outbox_dir: Path | None = None
    adapter_outbox_poll_seconds: float = Field(1.0, gt=0)
    adapter_state: Path | None = Field(None, description="default ./sihub-adapter-<code>.db")
    adapter_signing_key: Path | None = None
    adapter_signing_key_id: str | None = Field(None, description="default: the department code")
    adapter_hub_keys: Path | None = Field(
        None, description='key ring JSON {"hub": {"department": "hub", "public_key": …}}'
    )
    adapter_hub_signatures: SignatureMode = "optional"
    adapter_auto_receipt: bool = Field(
        True, description="hrss/medins answer payment details at once"
    )
    adapter_auto_sign: bool = Field(
        False, description="sign for routed cases on delivery to the sink"
    )
    adapter_auto_sign_handler: str = "自动签收"
    adapter_auto_confirm: bool = Field(False, description="confirm arrears data on request (demo)")
    adapter_prefetch: int = Field(1, ge=1, le=1000)
    adapter_max_body_bytes: int = Field(MAX_BODY_BYTES, ge=1024)
    adapter_batch_limit_bytes: int = Field(MAX_BODY_BYTES - BATCH_HEADROOM_BYTES, ge=1024)

    @field_validator("broker_url")
    @classmethod
    def _nodes_agree(cls, value: str) -> str:
        """Several nodes listed must be one cluster's: same user, password and vhost."""
        node_urls(value)
        return value

    @field_validator("adapter_sink")
    @classmethod
    def _known_sink(cls, value: str) -> str:
        parse_sink(value)
        return value

    def sink_spec(self) -> SinkSpec:
        """The parsed sink setting."""
        return parse_sink(self.adapter_sink)

    def state_path(self, code: str) -> Path:
        """The state file: ``SIHUB_ADAPTER_STATE`` or ``./sihub-adapter-<code>.db``."""
        return self.adapter_state or Path(f"sihub-adapter-{code}.db")


def _file_values(config: Path) -> dict[str, Any]:
    with config.open("rb") as handle:
        data = tomllib.load(handle)
    section = data.get("adapter", data)
    values: dict[str, Any] = {}
    for key, value in section.items():
        name = key.lower().removeprefix("sihub_")
        if (
            name not in AdapterSettings.model_fields
            and f"adapter_{name}" in AdapterSettings.model_fields
        ):
            name = f"adapter_{name}"
        if name not in AdapterSettings.model_fields:
            raise ValueError(f"{config}: unknown setting {key!r}")
        values[name] = value
    return values


def load_adapter_settings(config: Path | None = None, **overrides: Any) -> AdapterSettings:
    """Settings from the environment over an optional TOML file, then ``overrides`` (not None)."""
    values = _file_values(config) if config is not None else {}
    settings = AdapterSettings(**values)
    given = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=given) if given else settings
