"""The topology as data: the DESIGN §4 layout, its policies, users and the shipped definitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts.codes import QUEUE_DEPARTMENTS, Department
from hub.bus.topology import (
    DEAD_LETTER_EXCHANGE,
    HUB_QUEUE,
    IN_EXCHANGE,
    OUT_EXCHANGE,
    QUARANTINE_EXCHANGE,
    QUARANTINE_QUEUE,
    BindingSpec,
    default_topology,
    department_queue,
    render_definitions,
    to_definitions,
)
from hub.topology_cli import topology_command

DEFINITIONS_FILE = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"


def test_committed_definitions_file_equals_the_generated_one() -> None:
    assert DEFINITIONS_FILE.read_text(encoding="utf-8") == render_definitions(default_topology()), (
        "regenerate with: sihub topology --definitions > deploy/rabbitmq/definitions.json"
    )


def test_topology_cli_prints_the_definitions_file() -> None:
    result = CliRunner().invoke(topology_command, ["--definitions"])

    assert result.exit_code == 0, result.output
    assert result.output == DEFINITIONS_FILE.read_text(encoding="utf-8")


def test_topology_cli_definitions_follow_vhost_and_delivery_limit() -> None:
    result = CliRunner().invoke(
        topology_command, ["--definitions", "--vhost", "x", "--delivery-limit", "7"]
    )

    document = json.loads(result.output)
    assert {q["vhost"] for q in document["queues"]} == {"x"}
    assert document["policies"][0]["definition"]["delivery-limit"] == 7


@pytest.mark.parametrize("code", [str(code) for code in QUEUE_DEPARTMENTS])
def test_every_department_has_its_queue_bound_to_its_prefix_on_out(code: str) -> None:
    topology = default_topology()

    assert department_queue(code) in {q.name for q in topology.queues}
    assert BindingSpec(OUT_EXCHANGE, department_queue(code), f"{code}.#") in topology.bindings
    assert [b for b in topology.bindings if b.queue == department_queue(code)] == [
        BindingSpec(OUT_EXCHANGE, department_queue(code), f"{code}.#")
    ]


def test_the_hub_itself_has_no_department_queue() -> None:
    assert department_queue(str(Department.HUB)) not in {q.name for q in default_topology().queues}


def test_exchanges_have_the_types_of_the_design() -> None:
    kinds = {e.name: e.type for e in default_topology().exchanges}

    assert kinds == {
        IN_EXCHANGE: "topic",
        OUT_EXCHANGE: "topic",
        QUARANTINE_EXCHANGE: "fanout",
        DEAD_LETTER_EXCHANGE: "fanout",
    }


def test_every_queue_is_a_quorum_queue() -> None:
    assert {q.arguments.get("x-queue-type") for q in default_topology().queues} == {"quorum"}


def test_hub_queue_takes_everything_from_in_and_quarantine_takes_refusals_and_dead_letters() -> (
    None
):
    bindings = set(default_topology().bindings)

    assert BindingSpec(IN_EXCHANGE, HUB_QUEUE, "#") in bindings
    assert BindingSpec(QUARANTINE_EXCHANGE, QUARANTINE_QUEUE) in bindings
    assert BindingSpec(DEAD_LETTER_EXCHANGE, QUARANTINE_QUEUE) in bindings


@pytest.mark.parametrize(
    "queue", [HUB_QUEUE, *(department_queue(str(c)) for c in QUEUE_DEPARTMENTS)]
)
def test_work_queues_dead_letter_at_least_once_over_the_delivery_limit(queue: str) -> None:
    policy = default_topology(delivery_limit=9).policy_for(queue)

    assert policy is not None
    assert dict(policy.definition) == {
        "delivery-limit": 9,
        "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
    }


def test_quarantine_policy_rejects_when_full_and_never_dead_letters() -> None:
    policy = default_topology(quarantine_max_length=123).policy_for(QUARANTINE_QUEUE)

    assert policy is not None
    assert dict(policy.definition) == {"overflow": "reject-publish", "max-length": 123}


def test_department_user_may_write_only_in_with_its_own_prefix() -> None:
    tax = default_topology().user("tax")

    assert tax is not None and tax.password == "tax-dev" and tax.configure == "^$"
    assert tax.may_write(IN_EXCHANGE)
    assert not tax.may_write(OUT_EXCHANGE)
    assert not tax.may_write("sihub.in.evil")
    assert tax.may_publish_key(IN_EXCHANGE, "tax.case.registered")
    assert not tax.may_publish_key(IN_EXCHANGE, "hrss.case.registered")
    assert not tax.may_publish_key(IN_EXCHANGE, "taxforce.case.registered")


def test_department_user_may_read_only_its_own_queue() -> None:
    town = default_topology().user("township")

    assert town is not None
    assert town.may_read(department_queue("township"))
    assert not town.may_read(department_queue("township") + "2")
    assert not town.may_read(department_queue("tax"))
    assert not town.may_read(HUB_QUEUE)


def test_hub_user_may_use_every_sihub_resource_and_nothing_else() -> None:
    hub = default_topology().user("hub")

    assert hub is not None and hub.password == "hub-dev"
    assert (
        hub.may_write(OUT_EXCHANGE)
        and hub.may_write(QUARANTINE_EXCHANGE)
        and hub.may_read(HUB_QUEUE)
    )
    assert hub.may_publish_key(IN_EXCHANGE, "tax.case.registered")
    assert not hub.may_write("amq.topic")


def test_definitions_are_consistent_with_themselves() -> None:
    document = to_definitions(default_topology("v"))
    exchanges = {e["name"] for e in document["exchanges"]}
    queues = {q["name"] for q in document["queues"]}
    users = {u["name"] for u in document["users"]}

    assert all(
        b["source"] in exchanges and b["destination"] in queues for b in document["bindings"]
    )
    assert {p["user"] for p in document["permissions"]} == users
    assert {t["user"] for t in document["topic_permissions"]} == users - {"hub"}
    assert all(t["exchange"] == IN_EXCHANGE for t in document["topic_permissions"])
    assert document["vhosts"] == [{"name": "v"}]
    assert all(u["tags"] == "" for u in document["users"])


def test_definitions_without_users_leave_out_users_and_permissions() -> None:
    document = to_definitions(default_topology(), with_users=False)

    assert document["users"] == document["permissions"] == document["topic_permissions"] == []
    assert len(document["queues"]) == len(QUEUE_DEPARTMENTS) + 2
