"""``sihub dlq``: list, show and replay quarantined messages."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hub.config import Settings, load_settings

_PERSONAL_KEYS = frozenset({"name", "id_number", "phone", "person_id_number", "employer_name"})


def _mask(value: object) -> object:
    from contracts.identifiers import mask

    if isinstance(value, dict):
        return {
            k: (mask(str(v)) if k in _PERSONAL_KEYS and isinstance(v, str) else _mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _settings(config: Path | None, broker_url: str | None) -> Settings:
    settings = load_settings(config, broker_url=broker_url)
    if not settings.broker_url:
        raise click.UsageError("SIHUB_BROKER_URL (or --broker-url) is required")
    return settings


_options = [
    click.option("--config", type=click.Path(path_type=Path, exists=True, dir_okay=False)),
    click.option("--broker-url", help="Overrides SIHUB_BROKER_URL (the hub's user)."),
]


F = TypeVar("F", bound=Callable[..., Any])


def _with_options(func: F) -> F:
    for option in reversed(_options):
        func = option(func)
    return func


@click.group()
def dlq() -> None:
    """Inspect and replay messages in sihub.quarantine."""


@dlq.command("list")
@_with_options
@click.option("--limit", default=100, show_default=True)
def list_(config: Path | None, broker_url: str | None, limit: int) -> None:
    """List quarantined messages with their reason codes (they stay in the queue)."""
    from hub.bus.factory import open_broker
    from hub.dlq import browse

    broker = open_broker(_settings(config, broker_url).broker_url or "")
    with browse(broker, limit) as (_, items):
        if not items:
            click.echo("the quarantine is empty")
        for item in items:
            click.echo(
                f"{item.message_id}  {item.original_routing_key:<40} {item.reason:<22} {item.detail[:80]}"
            )
    broker.close()


@dlq.command()
@_with_options
@click.argument("message_id")
@click.option("--unmask", is_flag=True, help="Show personal data unmasked.")
def show(config: Path | None, broker_url: str | None, message_id: str, unmask: bool) -> None:
    """Show one quarantined message: reason, headers and body (personal data masked)."""
    from hub.bus.factory import open_broker
    from hub.dlq import browse

    broker = open_broker(_settings(config, broker_url).broker_url or "")
    with browse(broker, 10_000) as (_, items):
        item = next((i for i in items if i.message_id == message_id), None)
        if item is None:
            raise click.ClickException(f"no quarantined message {message_id}")
        click.echo(
            f"reason:      {item.reason}\ndetail:      {item.detail}\nrouting key: {item.original_routing_key}"
            f"\nsent by:     {item.original_user}"
        )
        click.echo(
            "headers:     "
            + json.dumps({k: str(v) for k, v in item.delivery.headers.items()}, ensure_ascii=False)
        )
        try:
            body: object = json.loads(item.delivery.body)
            click.echo(json.dumps(body if unmask else _mask(body), ensure_ascii=False, indent=2))
        except ValueError:
            click.echo(f"body ({len(item.delivery.body)} bytes) is not JSON")
    broker.close()


@dlq.command("replay")
@_with_options
@click.argument("message_ids", nargs=-1)
@click.option(
    "--reason", "reason_code", help="Replay every message quarantined with this reason code."
)
@click.option("--all", "everything", is_flag=True, help="Replay everything in the quarantine.")
@click.option("--why", required=True, help="Why it is replayed (kept in the audit log).")
@click.option(
    "--actor", default=getpass.getuser, show_default="the OS user", help="Who replays it."
)
def replay_(
    config: Path | None,
    broker_url: str | None,
    message_ids: tuple[str, ...],
    reason_code: str | None,
    everything: bool,
    why: str,
    actor: str,
) -> None:
    """Replay quarantined messages through the hub after a fix; refused ones go back with their reason."""
    from hub.bus.factory import open_broker
    from hub.dlq import matches, replay
    from hub.runtime import build_service

    if not (message_ids or reason_code or everything):
        raise click.UsageError("name message ids, --reason CODE, or --all")
    settings = _settings(config, broker_url)
    service = build_service(settings)
    broker = open_broker(settings.broker_url or "")
    results = replay(
        broker,
        service,
        select=lambda q: matches(q, message_ids, reason_code, everything),
        actor=actor,
        why=why,
    )
    for item, verdict in results:
        suffix = f" ({verdict.reason.value}: {verdict.detail})" if verdict.reason else ""
        click.echo(f"{item.message_id}: {verdict.outcome}{suffix}")
    click.echo(f"replayed {len(results)} message(s)")
    broker.close()
    service.store.close()
