"""The AsyncAPI 3.0.0 document of the wire protocol (DESIGN §4), built from exported schemas.

Departments publish to the topic exchange ``sihub.in`` with routing key
``<source>.<type>``; the hub publishes to ``sihub.out`` with ``<target>.<type>``.
The AsyncAPI schema object is JSON Schema draft 07 plus extensions, so each
schema's ``$defs`` are hoisted into ``components.schemas`` and their ``$ref`` s
rewritten to point there.
"""

from __future__ import annotations

import copy
from importlib import metadata
from typing import Any

from contracts.registry import ContractVersion

JsonObject = dict[str, Any]

#: Types only the hub emits (its ``source`` is ``hub``, DESIGN §3): never on ``sihub.in``.
HUB_ONLY_TYPES = frozenset({"case.routed", "sla.warning", "sla.breached"})
#: Version of the AMQP bindings used (asyncapi/bindings ``amqp``).
AMQP_BINDING_VERSION = "0.3.0"
VHOST = "sihub"
_COMPONENT_REF = "#/components/schemas/"


def asyncapi_document(
    contracts: list[ContractVersion],
    schemas: dict[tuple[str, int], JsonObject],
    *,
    version: str | None = None,
) -> JsonObject:
    """The document: servers, the two exchanges as channels, operations, components."""
    components: JsonObject = {}
    messages: JsonObject = {}
    inbound: JsonObject = {}
    outbound: JsonObject = {}
    for cv in contracts:
        name = _hoist(schemas[(cv.name, cv.version)], components)
        key = f"{cv.name}.v{cv.version}"
        messages[key] = _message(cv, name)
        reference = {"$ref": f"#/components/messages/{key}"}
        outbound[key] = reference
        if cv.name not in HUB_ONLY_TYPES:
            inbound[key] = reference
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "sihub",
            "version": version or _package_version(),
            "description": "Wuhe County social-insurance fee dispute hub: every message a "
            "department exchanges with the hub over RabbitMQ.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": _server("rabbitmq:5672", "amqp"),
            "productionTls": _server("rabbitmq:5671", "amqps"),
        },
        "channels": {
            "sihubIn": _channel(
                "sihub.in",
                "Departments to the hub; only the hub consumes it. Routing key <source>.<type>.",
                inbound,
            ),
            "sihubOut": _channel(
                "sihub.out",
                "The hub to departments; each department reads "
                "its queue sihub.dept.<code> bound to <code>.#. "
                "Routing key <target>.<type>.",
                outbound,
            ),
        },
        "operations": {
            "departmentSends": _operation("send", "sihubIn", inbound, "A department publishes"),
            "departmentReceives": _operation(
                "receive", "sihubOut", outbound, "A department consumes"
            ),
            "hubReceives": _operation("receive", "sihubIn", inbound, "The hub consumes"),
            "hubSends": _operation("send", "sihubOut", outbound, "The hub publishes"),
        },
        "components": {
            "schemas": components,
            "messages": messages,
            "correlationIds": {
                "correlationId": {
                    "description": "The first message of a conversation (a case's registration).",
                    "location": "$message.payload#/correlation_id",
                }
            },
            "securitySchemes": {
                "departmentUser": {
                    "type": "userPassword",
                    "description": "Each department's own RabbitMQ user, named by its code; every "
                    "message carries it in the AMQP user_id property.",
                }
            },
        },
    }


def _package_version() -> str:
    try:
        return metadata.version("sihub")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "0.0.0"


def _server(host: str, protocol: str) -> JsonObject:
    return {
        "host": host,
        "protocol": protocol,
        "protocolVersion": "0.9.1",
        "pathname": f"/{VHOST}",
        "description": f"RabbitMQ, virtual host {VHOST}.",
        "security": [{"$ref": "#/components/securitySchemes/departmentUser"}],
    }


def _channel(exchange: str, description: str, messages: JsonObject) -> JsonObject:
    return {
        "address": exchange,
        "description": f"Topic exchange {exchange}. {description}",
        "messages": messages,
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": VHOST,
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _operation(action: str, channel: str, messages: JsonObject, who: str) -> JsonObject:
    exchange = "sihub.in" if channel == "sihubIn" else "sihub.out"
    amqp: JsonObject = {"bindingVersion": AMQP_BINDING_VERSION}
    if action == "send":
        amqp.update(deliveryMode=2, mandatory=True)  # persistent, and unroutable is an error
    else:
        amqp.update(ack=True)  # manual acks: at least once
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{who} on {exchange}.",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in messages],
        "bindings": {"amqp": amqp},
    }


def _message(cv: ContractVersion, schema_name: str) -> JsonObject:
    keys = {"sihub.out": f"<target>.{cv.name}"}
    if cv.name not in HUB_ONLY_TYPES:
        keys["sihub.in"] = f"<source>.{cv.name}"
    routing = " and ".join(
        f"on {exchange} with routing key {key}" for exchange, key in sorted(keys.items())
    )
    return {
        "name": cv.name,
        "title": f"{cv.name} v{cv.version}",
        "summary": cv.description,
        "description": f"Travels {routing}. The payload is the whole envelope "
        f"(type {cv.name}, schema_version {cv.version}).",
        "contentType": "application/json",
        "payload": {"$ref": f"{_COMPONENT_REF}{schema_name}"},
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "bindings": {
            "amqp": {
                "messageType": cv.name,
                "bindingVersion": AMQP_BINDING_VERSION,
                # The routing key on each exchange the message travels (DESIGN §4).
                "x-sihub-routing-keys": keys,
            }
        },
        "x-sihub-schema-version": cv.version,
    }


def _hoist(schema: JsonObject, components: JsonObject) -> str:
    """Move one schema and its ``$defs`` into ``components``; returns the schema's name.

    A definition already there with the same content is shared; a different one of the
    same name (another version's ``Party``, say) is kept under ``<schema><name>``.
    """
    body = copy.deepcopy(schema)
    name: str = body["title"]
    definitions: JsonObject = body.pop("$defs", {})
    for keyword in ("$schema", "$id"):
        body.pop(keyword, None)
    names = {definition: definition for definition in definitions}
    settled = False
    while not settled:  # a renamed definition changes those that refer to it
        settled = True
        for definition, content in definitions.items():
            existing = components.get(names[definition])
            if existing is not None and existing != _relinked(content, names):
                names[definition] = f"{name}{definition}"
                settled = False
    for definition, content in definitions.items():
        components.setdefault(names[definition], _relinked(content, names))
    components[name] = _relinked(body, names)
    return name


def _relinked(value: Any, names: dict[str, str]) -> Any:
    """A copy of ``value`` with ``#/$defs/X`` references pointing into components."""
    if isinstance(value, dict):
        relinked = {key: _relinked(item, names) for key, item in value.items()}
        reference = relinked.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            relinked["$ref"] = _COMPONENT_REF + names[reference.removeprefix("#/$defs/")]
        return relinked
    if isinstance(value, list):
        return [_relinked(item, names) for item in value]
    return value
