"""Comparing what a broker has with the ``Topology``: a pure function over management-API JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.bus.topology import Topology

#: Objects whose names start with this are ours: extra ones are drift, others are not our business.
OUR_PREFIX = "sihub."
OUR_POLICY_PREFIX = "sihub-"


@dataclass(frozen=True)
class Observed:
    """What the management API reports for one vhost."""

    exchanges: Sequence[Mapping[str, Any]]
    queues: Sequence[Mapping[str, Any]]
    bindings: Sequence[Mapping[str, Any]]
    policies: Sequence[Mapping[str, Any]]


def find_drift(topology: Topology, observed: Observed) -> list[str]:
    """Every difference between ``observed`` and ``topology``, one line each; empty when none."""
    return [
        *_exchange_drift(topology, observed.exchanges),
        *_queue_drift(topology, observed.queues),
        *_binding_drift(topology, observed.bindings),
        *_policy_drift(topology, observed.policies),
    ]


def _exchange_drift(topology: Topology, exchanges: Sequence[Mapping[str, Any]]) -> list[str]:
    found = {e["name"]: e for e in exchanges}
    drift: list[str] = []
    for spec in topology.exchanges:
        actual = found.get(spec.name)
        if actual is None:
            drift.append(f"exchange {spec.name}: missing")
            continue
        if actual.get("type") != spec.type:
            drift.append(f"exchange {spec.name}: type {actual.get('type')}, expected {spec.type}")
        if not actual.get("durable", False):
            drift.append(f"exchange {spec.name}: not durable")
    expected = {spec.name for spec in topology.exchanges}
    drift += [
        f"exchange {n}: not in the spec" for n in sorted(found) if _ours(n) and n not in expected
    ]
    return drift


def _queue_drift(topology: Topology, queues: Sequence[Mapping[str, Any]]) -> list[str]:
    found = {q["name"]: q for q in queues}
    drift: list[str] = []
    for spec in topology.queues:
        actual = found.get(spec.name)
        if actual is None:
            drift.append(f"queue {spec.name}: missing")
            continue
        arguments = dict(actual.get("arguments") or {})
        if arguments.get("x-queue-type", "classic") != spec.arguments.get(
            "x-queue-type", "classic"
        ):
            drift.append(
                f"queue {spec.name}: type {arguments.get('x-queue-type', 'classic')}, "
                f"expected {spec.arguments.get('x-queue-type', 'classic')}"
            )
        elif arguments != dict(spec.arguments):
            drift.append(
                f"queue {spec.name}: arguments {arguments}, expected {dict(spec.arguments)}"
            )
        if not actual.get("durable", False):
            drift.append(f"queue {spec.name}: not durable")
        policy = topology.policy_for(spec.name)
        # A foreign policy of higher priority would silently replace ours on this queue.
        # (The management API reports the applied policy only after the first stats round.)
        applied = actual.get("policy")
        if policy is not None and applied and applied != policy.name:
            drift.append(f"queue {spec.name}: policy {applied} applied, expected {policy.name}")
    expected = {spec.name for spec in topology.queues}
    drift += [
        f"queue {n}: not in the spec" for n in sorted(found) if _ours(n) and n not in expected
    ]
    return drift


def _binding_drift(topology: Topology, bindings: Sequence[Mapping[str, Any]]) -> list[str]:
    found = {
        (b["source"], b["destination"], b.get("routing_key", ""))
        for b in bindings
        if b.get("destination_type") == "queue" and b.get("source")  # "" is the default exchange
    }
    expected = {(b.exchange, b.queue, b.routing_key) for b in topology.bindings}
    missing = [f"binding {s} -> {d} [{k}]: missing" for s, d, k in sorted(expected - found)]
    extra = [
        f"binding {s} -> {d} [{k}]: not in the spec"
        for s, d, k in sorted(found - expected)
        if _ours(s) and _ours(d)
    ]
    return missing + extra


def _policy_drift(topology: Topology, policies: Sequence[Mapping[str, Any]]) -> list[str]:
    found = {p["name"]: p for p in policies}
    drift: list[str] = []
    for spec in topology.policies:
        actual = found.get(spec.name)
        if actual is None:
            drift.append(f"policy {spec.name}: missing")
            continue
        wanted = {
            "pattern": spec.pattern,
            "apply-to": spec.apply_to,
            "priority": spec.priority,
            "definition": dict(spec.definition),
        }
        for key, value in wanted.items():
            if actual.get(key) != value:
                drift.append(f"policy {spec.name}: {key} {actual.get(key)!r}, expected {value!r}")
    expected = {spec.name for spec in topology.policies}
    drift += [
        f"policy {n}: not in the spec"
        for n in sorted(found)
        if n.startswith(OUR_POLICY_PREFIX) and n not in expected
    ]
    return drift


def _ours(name: str) -> bool:
    return name.startswith(OUR_PREFIX)
