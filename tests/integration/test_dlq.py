"""The quarantine: refused messages kept with their reasons, inspected, and replayed after a fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.dlq import browse, matches, replay
from tests.integration.hubenv import HubEnv, envelope, hub_env

pytestmark = pytest.mark.integration


@pytest.fixture(params=["memory", "rabbitmq"])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubEnv]:
    yield from hub_env(request, tmp_path, "dlq", retry_limit=0)


def test_a_message_refused_for_a_missing_case_is_replayed_once_the_case_exists(hub: HubEnv) -> None:
    accepted = envelope("case.accepted")
    hub.send_envelope(accepted)  # hrss signs for a case the hub does not know yet
    hub.wait_for(lambda: hub.broker("hub").queue_depth("sihub.quarantine") == 1, what="quarantine")
    with browse(hub.broker("hub"), 10) as (_, items):
        (item,) = items
        assert (item.reason, item.original_user, item.original_routing_key) == (
            "precondition_failed",
            "hrss",
            "hrss.case.accepted",
        )
        assert item.message_id == str(accepted.message_id)
    # Browsing leaves it there: the broker requeues it as the browsing channel closes, which
    # another connection may see a moment later.
    hub.wait_for(lambda: hub.broker("hub").queue_depth("sihub.quarantine") == 1, what="the browsed message back")

    hub.send_envelope(envelope("case.registered"))
    hub.wait_idle()
    results = replay(
        hub.broker("hub"),
        hub.runtime.service,
        select=lambda q: matches(q, (), "precondition_failed", False),
        actor="ops-zhang",
        why="the registration arrived late",
    )
    assert [verdict.outcome for _, verdict in results] == ["applied"]
    assert hub.broker("hub").queue_depth("sihub.quarantine") == 0
    assert hub.case("tax-2026-000123").stage.value == "accepted"
    with hub.runtime.store.transaction() as tx:
        last = tx.audit_entries("tax-2026-000123")[-1]
    assert (
        last.trigger == "replay"
        and "ops-zhang" in (last.note or "")
        and "late" in (last.note or "")
    )


def test_a_replay_refused_again_goes_back_to_the_quarantine_with_its_new_reason(
    hub: HubEnv,
) -> None:
    hub.send_envelope(envelope("case.closed"))  # tax closes a case that does not exist
    hub.wait_for(lambda: hub.broker("hub").queue_depth("sihub.quarantine") == 1, what="quarantine")
    hub.send_envelope(envelope("case.registered"))
    hub.wait_idle()
    results = replay(
        hub.broker("hub"), hub.runtime.service, select=lambda q: True, actor="ops", why="retry"
    )
    (verdict,) = [v for _, v in results]
    assert verdict.outcome == "rejected" and verdict.reason is not None
    assert (
        verdict.reason.value == "precondition_failed"
    )  # the case is open, not fed back: cannot close
    with browse(hub.broker("hub"), 10) as (_, items):
        assert [i.reason for i in items] == ["precondition_failed"]
        headers = items[0].delivery.headers
        assert (headers["x-sihub-original-exchange"], headers["x-sihub-original-routing-key"]) == (
            "sihub.in",
            "tax.case.closed",
        )
        assert "fed back" in items[0].detail or "told" in items[0].detail


def test_dlq_cli_lists_shows_masked_and_replays(hub: HubEnv) -> None:
    if hub.kind != "rabbitmq":
        pytest.skip("the CLI runs in its own process: it needs a shared broker")
    registered = envelope("case.registered")
    hub.send(
        registered.to_json().replace(
            b'"id_number":"340322198503151230"', b'"id_number":"340322198503151231"'
        ),
        as_="tax",
    )
    hub.wait_for(lambda: hub.broker("hub").queue_depth("sihub.quarantine") == 1, what="quarantine")
    env = {
        **os.environ,
        "SIHUB_BROKER_URL": hub.runtime.settings.broker_url or "",
        "SIHUB_DATABASE_URL": hub.runtime.settings.database_url,
    }

    def sihub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", "dlq", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    listed = sihub("list")
    assert (
        listed.returncode == 0
        and "invalid_id_number" in listed.stdout
        and str(registered.message_id) in listed.stdout
    )
    shown = sihub("show", str(registered.message_id))
    assert shown.returncode == 0 and "payload.party.id_number" in shown.stdout
    assert "340322198503151231" not in shown.stdout and "3403" in shown.stdout  # masked
    replayed = sihub("replay", "--all", "--why", "checking the CLI", "--actor", "ops")
    assert replayed.returncode == 0 and "rejected (invalid_id_number" in replayed.stdout
    assert (
        json.loads(hub.drain_queue("sihub.quarantine", "hub")[0].body)["case_id"]
        == "tax-2026-000123"
    )
