"""A case's whole life over HTTP against the real server: register, route, close the loop."""

from __future__ import annotations

import json

import pytest

from .conftest import HubServer, drain
from .helpers import envelope, registration

pytestmark = pytest.mark.integration


def test_a_case_registered_over_http_is_routed_by_duty_and_closed_by_its_departments(hub_server: HubServer) -> None:
    with hub_server.client("tax") as tax, hub_server.client("hrss") as hrss:
        created = tax.post("/v1/cases", json=registration())
        assert created.status_code == 201, created.text
        case_id = created.json()["case_id"]
        assert created.headers["location"] == f"/v1/cases/{case_id}"
        assert (created.json()["owner"], created.json()["stage"]) == ("hrss", "routed")

        # The hub told the owner over RabbitMQ: the relay woke for the HTTP commit.
        [routed] = drain(hub_server, "hrss", lambda m: m.get("case_id") == case_id, 1)
        assert routed["type"] == "case.routed" and routed["source"] == "hub"

        for client, name in ((hrss, "case.accepted"), (hrss, "case.handled"),
                             (tax, "case.feedback_given"), (tax, "case.closed")):  # fmt: skip
            answer = client.post("/v1/messages", content=envelope(name, case_id))
            assert (answer.status_code, answer.json()["outcome"]) == (202, "applied"), answer.text

        view = tax.get(f"/v1/cases/{case_id}").json()

    assert (view["stage"], view["resolution"], view["deadlines"]) == ("closed", "resolved", [])
    assert [(e["seq"], e["type"], e["source"]) for e in view["timeline"]] == [
        (1, "case.registered", "tax"), (2, "case.accepted", "hrss"), (3, "case.handled", "hrss"),
        (4, "case.feedback_given", "tax"), (5, "case.closed", "tax")]
    assert view["registration"]["party"]["id_number"] == "340322198503151230"  # tax follows the case


def test_the_ledger_lists_a_departments_cases_in_pages_on_postgresql(hub_server: HubServer) -> None:
    with hub_server.client("medins") as medins:
        made = [medins.post("/v1/cases", json=registration()).json()["case_id"] for _ in range(5)]
        listed: list[str] = []
        url: str | None = "/v1/cases?department=medins&limit=2"
        while url is not None:
            page = medins.get(url).json()
            listed += [item["case_id"] for item in page["items"]]
            url = page["next"]

    assert [case_id for case_id in listed if case_id in made] == made
    assert len(listed) == len(set(listed))


def test_an_idempotency_key_registers_once_across_requests(hub_server: HubServer) -> None:
    with hub_server.client("court") as court:
        first = court.post("/v1/cases", json=registration(), headers={"Idempotency-Key": "court-window-1"})
        again = court.post("/v1/cases", json=registration(), headers={"Idempotency-Key": "court-window-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["case_id"] == again.json()["case_id"]
    assert again.json()["timeline"] == first.json()["timeline"]


def test_the_case_view_of_an_office_masks_the_partys_personal_data(hub_server: HubServer) -> None:
    with hub_server.client("justice") as justice, hub_server.client("lgo") as lgo:
        case_id = justice.post("/v1/cases", json=registration()).json()["case_id"]
        view = lgo.get(f"/v1/cases/{case_id}").json()

    party = view["registration"]["party"]
    assert "340322198503151230" not in json.dumps(view)
    assert (party["id_number"], view["personal_data_masked"]) == ("3403**********1230", True)
