"""``sihub topology``: declare the RabbitMQ layout, check it for drift, or print definitions."""

from __future__ import annotations

import click

from hub.bus.amqp_codec import node_parameters, url_vhost
from hub.bus.declare import declare_topology, observe
from hub.bus.drift import find_drift
from hub.bus.management import MANAGEMENT_URL_ENV, ManagementClient
from hub.bus.topology import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_VHOST,
    Topology,
    default_topology,
    render_definitions,
)
from hub.bus.types import BusError

BROKER_URL_ENV = "SIHUB_BROKER_URL"


@click.command("topology")
@click.option(
    "--broker-url",
    envvar=BROKER_URL_ENV,
    help=f"amqp://user:pass@host:5672/vhost [${BROKER_URL_ENV}]",
)
@click.option(
    "--management-url",
    envvar=MANAGEMENT_URL_ENV,
    help=f"http://user:pass@host:15672 [${MANAGEMENT_URL_ENV}; default: the broker host, its credentials]",
)
@click.option("--vhost", help=f"virtual host [default: the broker URL's, else {DEFAULT_VHOST}]")
@click.option(
    "--delivery-limit",
    type=click.IntRange(min=1),
    default=DEFAULT_DELIVERY_LIMIT,
    show_default=True,
    help="redeliveries before a work queue dead-letters a message to sihub.quarantine",
)
@click.option("--check", is_flag=True, help="compare the broker with the spec; exit 1 on any drift")
@click.option(
    "--definitions", "print_definitions", is_flag=True, help="print the definitions JSON and exit"
)
def topology_command(
    broker_url: str | None,
    management_url: str | None,
    vhost: str | None,
    delivery_limit: int,
    check: bool,
    print_definitions: bool,
) -> None:
    """Declare the sihub exchanges, queues, bindings and policies (idempotent)."""
    if print_definitions:
        topology = default_topology(vhost or DEFAULT_VHOST, delivery_limit)
        click.echo(render_definitions(topology), nl=False)
        return
    if not broker_url or not broker_url.startswith(("amqp://", "amqps://")):
        raise click.UsageError(f"--broker-url (or ${BROKER_URL_ENV}) must be an amqp:// URL")
    topology = default_topology(vhost or url_vhost(broker_url) or DEFAULT_VHOST, delivery_limit)
    management = ManagementClient.for_broker(broker_url, management_url)
    try:
        if check:
            _check(topology.vhost, management, topology)
        else:
            declare_topology(topology, node_parameters(broker_url), management, click.echo)
            click.echo(f"topology of vhost {topology.vhost}: declared")
    except BusError as error:
        raise click.ClickException(str(error)) from error
    finally:
        management.close()


def _check(vhost: str, management: ManagementClient, topology: Topology) -> None:
    """Print each drift between the broker and ``topology``; exit 1 if there is any."""
    if not management.vhost_exists(vhost):
        click.echo(f"vhost {vhost}: missing")
        raise click.exceptions.Exit(1)
    drift = find_drift(topology, observe(management, vhost))
    for line in drift:
        click.echo(line)
    if drift:
        click.echo(f"{len(drift)} difference(s) from the spec in vhost {vhost}")
        raise click.exceptions.Exit(1)
    click.echo(f"vhost {vhost}: no drift")
