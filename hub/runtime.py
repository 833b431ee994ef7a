"""Wiring: build the hub from :class:`Settings` — store, rules, service, workers — in one place.

Nothing is created at import time; tests and ``sihub demo`` call the same
:class:`HubRuntime` with their own settings and clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from prometheus_client import CollectorRegistry

from contracts.values import ValidationSettings
from hub.bus.factory import open_broker
from hub.bus.nodes import first_node
from hub.bus.types import Broker
from hub.config import Settings
from hub.domain.calendar import default_calendar
from hub.domain.flow import Rules
from hub.domain.sla_policy import load_policy
from hub.gate import Gate
from hub.metrics import HubMetrics, register_ledger_collector
from hub.observe import Observer
from hub.relay import Relay
from hub.scheduler import Scheduler
from hub.service import HubService
from hub.signing import KeyRing, Signer
from hub.store.store import Store, StoreError

log = logging.getLogger("sihub.runtime")


def utc_now() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


def vhost_of(broker_url: str) -> str:
    """The vhost named in an ``amqp://`` URL (``sihub`` when none); the nodes of a cluster share it."""
    path = urlsplit(first_node(broker_url)).path.lstrip("/")
    return unquote(path) or "sihub"


def build_service(settings: Settings, clock: Callable[[], datetime] = utc_now) -> HubService:
    """The store, rules and service of a hub, without workers (tools such as ``sihub dlq``)."""
    calendar = default_calendar(settings.calendar)
    store = Store.open(settings.database_url, county=settings.county_code, calendar=calendar)
    rules = Rules(load_policy(settings.sla_policy), calendar, settings.process_change_date)
    signer = Signer.load(settings.hub_private_key) if settings.hub_private_key else None
    return HubService(
        store,
        rules,
        clock=clock,
        validation=ValidationSettings(settings.county_code, frozenset(settings.uscc_exceptions)),
        keyring=KeyRing.load(settings.signing_keys),
        signatures=settings.signatures,
        signer=signer,
        max_body_bytes=settings.max_body_bytes,
        retry_limit=settings.retry_limit,
    )


class HubRuntime:
    """The hub process: gate, relay and scheduler threads over one store and one broker URL."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry | None = None,
        declare_topology: bool = False,
    ) -> None:
        if not settings.broker_url:
            raise ValueError("SIHUB_BROKER_URL is required (amqp://… or memory://)")
        self.settings = settings
        self.clock = clock
        self.registry = registry or CollectorRegistry()
        self.metrics = HubMetrics(self.registry)
        self.service = build_service(settings, clock)
        self.store = self.service.store
        self.rules = self.service.rules
        register_ledger_collector(self.registry, self.store, clock)
        self.observer = Observer(self.metrics)
        self.stop_event = threading.Event()
        self.outbox_wake = threading.Event()
        self._connected = threading.Event()
        self._threads: list[threading.Thread] = []
        self._declare = declare_topology
        self.gate = Gate(
            self.broker,
            self.service,
            self.observer,
            stop=self.stop_event,
            batch_size=settings.batch_size,
            prefetch=settings.prefetch,
            retry_delay_seconds=settings.retry_delay_seconds,
            on_connected=self._on_connected,
            on_committed=self.outbox_wake.set,
        )
        self.relay = Relay(
            self.broker, self.store, self.observer, stop=self.stop_event, wake=self.outbox_wake
        )
        self.scheduler = Scheduler(
            self.store,
            self.rules,
            self.service,
            self.observer,
            clock=clock,
            stop=self.stop_event,
            wake=self.outbox_wake,
            interval_seconds=settings.scheduler_interval_seconds,
        )

    def broker(self) -> Broker:
        """A new broker connection factory for the hub's own user."""
        assert self.settings.broker_url is not None
        return open_broker(self.settings.broker_url, connection_name="sihub-hub")

    def declare(self) -> None:
        """Declare the RabbitMQ layout (a no-op on the in-process broker, declared at birth)."""
        url = self.settings.broker_url or ""
        if not url.startswith("amqp"):
            return
        from hub.bus.amqp_codec import node_parameters
        from hub.bus.declare import declare_topology
        from hub.bus.management import ManagementClient
        from hub.bus.topology import default_topology

        management = ManagementClient.for_broker(url, self.settings.management_url)
        try:
            declare_topology(
                default_topology(vhost=vhost_of(url)), node_parameters(url), management
            )
        finally:
            management.close()

    def start(self) -> None:
        """Declare the layout if asked, then start the gate, relay and scheduler threads."""
        if self._declare:
            self.declare()
        for name, target in (
            ("gate", self.gate.run),
            ("relay", self.relay.run),
            ("scheduler", self.scheduler.run),
        ):
            thread = threading.Thread(target=target, name=f"sihub-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop taking work, finish what is in hand, and wait for the threads."""
        self.stop_event.set()
        self.outbox_wake.set()
        for thread in self._threads:
            thread.join(timeout_seconds)
        self._threads.clear()
        self.metrics.set_ready(broker=False, database=False)
        self.store.close()

    def ready(self) -> bool:
        """Whether the gate is connected to the broker and the database answers."""
        try:
            with self.store.transaction() as tx:
                tx.seen([])
            database = True
        except StoreError:
            database = False
        broker = self._connected.is_set()
        self.metrics.set_ready(broker=broker, database=database)
        return broker and database

    def wake_relay(self) -> None:
        """Tell the relay a commit left rows in the outbox."""
        self.outbox_wake.set()

    def _on_connected(self, up: bool) -> None:
        if up:
            self._connected.set()
        else:
            self._connected.clear()
        self.metrics.set_ready(broker=up, database=True)

    def __enter__(self) -> HubRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
