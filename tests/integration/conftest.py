"""Fixtures for the real RabbitMQ: a scratch vhost per test module, made and removed over HTTP.

The broker is shared with other people: tests never restart it, never touch
vhosts they did not create, and delete theirs afterwards. Without a reachable
broker the tests skip on a laptop but fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

import pytest

from hub.bus.management import ManagementClient, ManagementError

#: Base AMQP URL of the test broker (administrator credentials); the vhost is replaced.
TEST_BROKER_URL = os.environ.get("SIHUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
#: Management API of the test broker; default: the broker host on 15672 with its credentials.
TEST_MANAGEMENT_URL = os.environ.get("SIHUB_TEST_MANAGEMENT_URL")
PLUGINS = ("rabbitmq_management", "rabbitmq_prometheus")


def _rabbit_url(vhost: str, user: str | None = None, password: str | None = None) -> str:
    """An AMQP URL of the test broker for ``vhost``, as ``user`` (default: the admin)."""
    base = urlsplit(TEST_BROKER_URL)
    credentials = (
        f"{quote(user or base.username or 'guest')}:{quote(password or base.password or 'guest')}"
    )
    return (
        f"{base.scheme}://{credentials}@{base.hostname}:{base.port or 5672}/{quote(vhost, safe='')}"
    )


def _management_url() -> str:
    return TEST_MANAGEMENT_URL or f"http://{urlsplit(TEST_BROKER_URL).hostname}:15672"


def _scratch_name(label: str) -> str:
    """A vhost name no one else uses: ``sihub-test-<label>-<random>``."""
    return f"sihub-test-{label}-{uuid.uuid4().hex[:8]}"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _enable_plugins() -> bool:
    # Enabling plugins is online and idempotent (no restart); only possible on the broker's host.
    command = shutil.which("rabbitmq-plugins")
    if command is None:
        return False
    done = subprocess.run(
        [command, "enable", *PLUGINS], capture_output=True, timeout=60, check=False
    )
    return done.returncode == 0


@pytest.fixture(scope="session")
def rabbit_management() -> Iterator[ManagementClient]:
    """An administrator's client for the test broker's management API."""
    client = ManagementClient.for_broker(TEST_BROKER_URL, _management_url())
    try:
        client.overview()
    except ManagementError:
        if not _enable_plugins():
            client.close()
            _unavailable(f"RabbitMQ management API not reachable at {client.base_url}")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.overview()
                break
            except ManagementError:
                if time.monotonic() > deadline:
                    client.close()
                    _unavailable("RabbitMQ management plugin enabled but not answering")
                time.sleep(0.5)
    yield client
    client.close()


@pytest.fixture(scope="module")
def scratch_vhost(
    rabbit_management: ManagementClient, request: pytest.FixtureRequest
) -> Iterator[str]:
    """A fresh, empty vhost for one test module, deleted afterwards."""
    name = _scratch_name(
        request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    )
    rabbit_management.create_vhost(name)
    yield name
    rabbit_management.delete_vhost(name)


def _wait_for_connection(
    management: ManagementClient, vhost: str, name: str, timeout_seconds: float = 10.0
) -> str:
    """The server-side name of the client connection called ``name``, once the API lists it."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for connection in management.connections(vhost):
            if (connection.get("client_properties") or {}).get("connection_name") == name:
                return str(connection["name"])
        time.sleep(0.1)
    raise AssertionError(f"connection {name!r} never appeared in vhost {vhost!r}")


# Helpers as fixtures: test modules cannot import conftest reliably.


@pytest.fixture(scope="session")
def rabbit_url() -> Callable[..., str]:
    """``rabbit_url(vhost, user=None, password=None)``: an AMQP URL of the test broker."""
    return _rabbit_url


@pytest.fixture(scope="session")
def rabbit_management_url() -> str:
    """The management API base URL of the test broker, without credentials."""
    return _management_url()


@pytest.fixture(scope="session")
def scratch_name() -> Callable[[str], str]:
    """``scratch_name(label)``: a vhost name no one else uses."""
    return _scratch_name


@pytest.fixture(scope="session")
def wait_for_connection(rabbit_management: ManagementClient) -> Callable[[str, str], str]:
    """``wait_for_connection(vhost, connection_name)``: its server-side name, once listed."""
    return lambda vhost, name: _wait_for_connection(rabbit_management, vhost, name)
