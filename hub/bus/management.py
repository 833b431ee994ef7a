"""A small client for the RabbitMQ management HTTP API (port 15672): only what sihub uses."""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

import httpx

from hub.bus.nodes import first_node
from hub.bus.topology import PolicySpec
from hub.bus.types import BusError

#: Environment variable naming the management API, e.g. ``http://guest:guest@host:15672``.
MANAGEMENT_URL_ENV = "SIHUB_MANAGEMENT_URL"
DEFAULT_MANAGEMENT_PORT = 15672


class ManagementError(BusError):
    """The management API answered with an error status, or could not be reached."""


def _q(name: str) -> str:
    return quote(name, safe="")


class ManagementClient:
    """Calls to ``/api/...`` as one user (needs the ``administrator`` tag for vhosts and imports)."""

    def __init__(
        self, base_url: str, username: str, password: str, timeout_seconds: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api", auth=(username, password), timeout=timeout_seconds
        )

    @classmethod
    def for_broker(cls, broker_url: str, management_url: str | None = None) -> ManagementClient:
        """The management API beside ``broker_url``: ``management_url``, env, or ``http://host:15672``.

        Of a cluster's nodes, the first listed serves (any node answers for the whole cluster).

        Credentials come from the management URL when it has them, else from the broker URL.
        """
        amqp = urlsplit(first_node(broker_url))
        url = (
            management_url
            or os.environ.get(MANAGEMENT_URL_ENV)
            or (f"http://{amqp.hostname or 'localhost'}:{DEFAULT_MANAGEMENT_PORT}")
        )
        parts = urlsplit(url)
        source = parts if parts.username else amqp
        netloc = parts.hostname or "localhost"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        base = f"{parts.scheme}://{netloc}{parts.path}"
        return cls(base, unquote(source.username or "guest"), unquote(source.password or "guest"))

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        json: Any = None,
        ok_missing: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Any:
        try:
            response = self._http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as error:
            raise ManagementError(f"{method} {self.base_url}/api{path}: {error!r}") from error
        if ok_missing and response.status_code == 404:
            return None
        if response.is_error:
            raise ManagementError(f"{method} /api{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def _list(self, path: str) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._call("GET", path))

    def overview(self) -> dict[str, Any]:
        """``/api/overview``: also a cheap reachability check."""
        return cast(dict[str, Any], self._call("GET", "/overview"))

    def vhost_exists(self, vhost: str) -> bool:
        """Whether ``vhost`` exists."""
        return self._call("GET", f"/vhosts/{_q(vhost)}", ok_missing=True) is not None

    def create_vhost(self, vhost: str) -> None:
        """Create ``vhost`` (idempotent); RabbitMQ grants the calling user full permissions on it."""
        self._call("PUT", f"/vhosts/{_q(vhost)}", json={})

    def delete_vhost(self, vhost: str) -> None:
        """Delete ``vhost`` and everything in it; missing is fine."""
        self._call("DELETE", f"/vhosts/{_q(vhost)}", ok_missing=True)

    def policies(self, vhost: str) -> list[dict[str, Any]]:
        """The policies of ``vhost``."""
        return self._list(f"/policies/{_q(vhost)}")

    def put_policy(self, vhost: str, policy: PolicySpec) -> None:
        """Create or replace ``policy`` in ``vhost``."""
        body = {
            "pattern": policy.pattern,
            "apply-to": policy.apply_to,
            "priority": policy.priority,
            "definition": dict(policy.definition),
        }
        self._call("PUT", f"/policies/{_q(vhost)}/{_q(policy.name)}", json=body)

    def delete_policy(self, vhost: str, name: str) -> None:
        """Delete the policy ``name``; missing is fine."""
        self._call("DELETE", f"/policies/{_q(vhost)}/{_q(name)}", ok_missing=True)

    def exchanges(self, vhost: str) -> list[dict[str, Any]]:
        """The exchanges of ``vhost`` (name, type, durable, arguments, ...)."""
        return self._list(f"/exchanges/{_q(vhost)}")

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        """The queues of ``vhost`` with consumers, arguments and the policy applied."""
        return self._list(f"/queues/{_q(vhost)}")

    def bindings(self, vhost: str) -> list[dict[str, Any]]:
        """The bindings of ``vhost`` (source, destination, routing_key, properties_key)."""
        return self._list(f"/bindings/{_q(vhost)}")

    def delete_binding(self, vhost: str, exchange: str, queue: str, properties_key: str) -> None:
        """Delete one binding of ``queue`` to ``exchange``."""
        path = f"/bindings/{_q(vhost)}/e/{_q(exchange)}/q/{_q(queue)}/{_q(properties_key)}"
        self._call("DELETE", path)

    def connections(self, vhost: str) -> list[dict[str, Any]]:
        """Client connections to ``vhost`` (``client_properties.connection_name`` names ours)."""
        return self._list(f"/vhosts/{_q(vhost)}/connections")

    def purge_queue(self, vhost: str, queue: str) -> None:
        """Drop every ready message of ``queue``."""
        self._call("DELETE", f"/queues/{_q(vhost)}/{_q(queue)}/contents", ok_missing=True)

    def close_connection(self, name: str, reason: str = "closed by sihub") -> None:
        """Force-close a client connection (the client sees 320 CONNECTION_FORCED)."""
        self._call(
            "DELETE", f"/connections/{_q(name)}", ok_missing=True, headers={"X-Reason": reason}
        )

    def import_definitions(self, definitions: dict[str, Any]) -> None:
        """Import a definitions document (users, vhosts, permissions, ... as ``load_definitions``)."""
        self._call("POST", "/definitions", json=definitions)
