"""``find_drift`` names every difference between a broker's layout and the spec."""

from __future__ import annotations

from typing import Any

from hub.bus.drift import Observed, find_drift
from hub.bus.topology import default_topology, to_definitions

TOPOLOGY = default_topology("v")


def _observed_as_declared() -> dict[str, list[dict[str, Any]]]:
    # The management API lists objects in the same shape as the definitions file,
    # next to RabbitMQ's own (the default exchange, amq.*).
    document = to_definitions(TOPOLOGY, with_users=False)
    document["exchanges"].append({"name": "amq.topic", "type": "topic", "durable": True})
    document["exchanges"].append({"name": "", "type": "direct", "durable": True})
    document["bindings"].append(
        {
            "source": "",
            "destination": "sihub.hub.in",
            "destination_type": "queue",
            "routing_key": "sihub.hub.in",
        }
    )
    for queue in document["queues"]:
        queue["policy"] = (
            "sihub-quarantine" if queue["name"] == "sihub.quarantine" else "sihub-work"
        )
    return document


def _drift(document: dict[str, list[dict[str, Any]]]) -> list[str]:
    return find_drift(
        TOPOLOGY,
        Observed(
            document["exchanges"], document["queues"], document["bindings"], document["policies"]
        ),
    )


def test_layout_as_declared_has_no_drift() -> None:
    assert _drift(_observed_as_declared()) == []


def test_missing_binding_is_drift() -> None:
    document = _observed_as_declared()
    document["bindings"] = [
        b for b in document["bindings"] if b["destination"] != "sihub.dept.court"
    ]

    assert _drift(document) == ["binding sihub.out -> sihub.dept.court [court.#]: missing"]


def test_missing_and_changed_policies_are_drift() -> None:
    document = _observed_as_declared()
    document["policies"] = [p for p in document["policies"] if p["name"] != "sihub-quarantine"]
    document["policies"][0]["definition"] = {
        **document["policies"][0]["definition"],
        "delivery-limit": 5,
    }

    drift = _drift(document)
    assert "policy sihub-quarantine: missing" in drift
    assert any(line.startswith("policy sihub-work: definition") and "5" in line for line in drift)
    assert len(drift) == 2


def test_classic_queue_in_place_of_a_quorum_queue_is_drift() -> None:
    document = _observed_as_declared()
    document["queues"][0]["arguments"] = {}

    assert _drift(document) == ["queue sihub.hub.in: type classic, expected quorum"]


def test_foreign_policy_overriding_ours_on_a_queue_is_drift() -> None:
    document = _observed_as_declared()
    document["queues"][1]["policy"] = "ops-override"

    assert _drift(document) == [
        "queue sihub.dept.tax: policy ops-override applied, expected sihub-work"
    ]


def test_missing_and_extra_objects_with_our_names_are_drift_others_are_not() -> None:
    document = _observed_as_declared()
    document["exchanges"] = [e for e in document["exchanges"] if e["name"] != "sihub.dlx"]
    document["exchanges"].append({"name": "sihub.legacy", "type": "topic", "durable": True})
    document["exchanges"].append({"name": "ops.audit", "type": "topic", "durable": True})
    document["queues"].append({"name": "sihub.dept.old", "durable": True, "arguments": {}})
    document["queues"].append({"name": "ops.audit", "durable": True, "arguments": {}})
    document["bindings"].append(
        {
            "source": "sihub.out",
            "destination": "sihub.dept.tax",
            "destination_type": "queue",
            "routing_key": "#",
        }
    )

    assert _drift(document) == [
        "exchange sihub.dlx: missing",
        "exchange sihub.legacy: not in the spec",
        "queue sihub.dept.old: not in the spec",
        "binding sihub.out -> sihub.dept.tax [#]: not in the spec",
    ]


def test_exchange_of_the_wrong_type_is_drift() -> None:
    document = _observed_as_declared()
    document["exchanges"][0]["type"] = "direct"

    assert _drift(document) == ["exchange sihub.in: type direct, expected topic"]
