"""``/v1/cases``: registration with hub-assigned ids, the case view, and the ledger's pages."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from hub.runtime import HubRuntime

from .conftest import Clock
from .helpers import auth, body, envelope, registration


def _register(client: TestClient, department: str = "tax", **headers: str) -> dict[str, Any]:
    answer = client.post("/v1/cases", json=registration(), headers={**auth(department), **headers})
    assert answer.status_code in (200, 201), answer.text
    view: dict[str, Any] = answer.json()
    return view


def _send(client: TestClient, department: str, name: str, case_id: str, **changes: Any) -> None:
    message = envelope(name, case_id=case_id, source=department, **changes)
    answer = client.post("/v1/messages", content=body(message), headers=auth(department))
    assert answer.status_code == 202, answer.text


def test_registration_numbers_cases_per_department_and_year_and_points_to_them(client: TestClient) -> None:
    first = client.post("/v1/cases", json=registration(), headers=auth("tax"))
    second = client.post("/v1/cases", json=registration(), headers=auth("tax"))
    other = client.post("/v1/cases", json=registration(), headers=auth("hrss"))

    assert [a.status_code for a in (first, second, other)] == [201, 201, 201]
    assert [a.json()["case_id"] for a in (first, second, other)] == [
        "tax-2026-000001", "tax-2026-000002", "hrss-2026-000001"]
    assert first.headers["location"] == "/v1/cases/tax-2026-000001"


def test_registration_routes_the_case_by_duty_and_starts_the_sign_deadline(client: TestClient) -> None:
    view = _register(client)  # pension arrears from 2023, before the process change

    assert (view["intake"], view["owner"], view["stage"], view["tier"]) == ("tax", "hrss", "routed", "routine")
    assert "hrss" in view["routing"]["rule"] and view["routing"]["clause"]
    [sign] = view["deadlines"]
    assert (sign["key"], sign["department"], sign["overdue"]) == ("routine.sign", "hrss", False)
    assert sign["seconds_left"] > 0
    assert [entry["type"] for entry in view["timeline"]] == ["case.registered"]


def test_a_repeated_idempotency_key_answers_with_the_same_case_and_registers_nothing(
    client: TestClient,
) -> None:
    first = client.post("/v1/cases", json=registration(), headers={**auth("tax"), "Idempotency-Key": "w7-0001"})
    again = client.post("/v1/cases", json=registration(), headers={**auth("tax"), "Idempotency-Key": "w7-0001"})
    other = client.post("/v1/cases", json=registration(), headers={**auth("tax"), "Idempotency-Key": "w7-0002"})

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["case_id"] == first.json()["case_id"] != other.json()["case_id"]
    assert again.headers["idempotent-replayed"] == "true"
    listed = client.get("/v1/cases", headers=auth("tax")).json()["items"]
    assert len(listed) == 2


def test_the_same_idempotency_key_of_two_departments_registers_two_cases(client: TestClient) -> None:
    tax = _register(client, "tax", **{"Idempotency-Key": "k-1"})
    hrss = _register(client, "hrss", **{"Idempotency-Key": "k-1"})

    assert (tax["case_id"], hrss["case_id"]) == ("tax-2026-000001", "hrss-2026-000001")


def test_a_registration_with_a_bad_id_number_is_refused_with_its_reason_code(client: TestClient) -> None:
    bad = registration()
    bad["payload"]["party"]["id_number"] = "340322198503151231"

    answer = client.post("/v1/cases", json=bad, headers=auth("tax"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (422, "invalid_id_number")
    assert answer.json()["detail"].startswith("payload.party.id_number")


def test_a_registration_request_of_the_wrong_shape_is_refused_naming_the_field(client: TestClient) -> None:
    wrong_type = client.post("/v1/cases", json={**registration(), "type": "case.accepted"}, headers=auth("tax"))
    extra = client.post("/v1/cases", json={**registration(), "case_id": "tax-2026-000009"}, headers=auth("tax"))
    not_json = client.post("/v1/cases", content=b"type=case.registered", headers=auth("tax"))

    assert (wrong_type.status_code, wrong_type.json()["detail"].split(":")[0]) == (422, "type")
    assert (extra.status_code, extra.json()["detail"].split(":")[0]) == (422, "case_id")
    assert (not_json.status_code, not_json.json()["reject_reason"]) == (400, "malformed_json")


def test_the_task_force_does_not_register_cases(client: TestClient) -> None:
    answer = client.post("/v1/cases", json=registration(), headers=auth("taskforce"))

    assert (answer.status_code, answer.json()["reject_reason"]) == (403, "not_permitted")


def test_a_petition_is_registered_by_the_petition_bureau_only(client: TestClient) -> None:
    petition = {"type": "petition.registered",
                "payload": {**registration()["payload"], "petition_no": "五信〔2026〕031号", "people_count": 6}}

    refused = client.post("/v1/cases", json=petition, headers=auth("tax"))
    taken = client.post("/v1/cases", json=petition, headers=auth("petition"))

    assert (refused.status_code, refused.json()["reject_reason"]) == (403, "not_permitted")
    assert (taken.status_code, taken.json()["kind"], taken.json()["coordinator"]) == (201, "petition", "petition")


def test_the_case_view_follows_the_closed_loop_in_its_timeline(client: TestClient, clock: Clock) -> None:
    case_id = _register(client)["case_id"]
    for department, name in (("hrss", "case.accepted"), ("hrss", "case.handled"),
                             ("tax", "case.feedback_given"), ("tax", "case.closed")):  # fmt: skip
        clock.advance(hours=1)
        _send(client, department, name, case_id)

    view = client.get(f"/v1/cases/{case_id}", headers=auth("tax")).json()

    assert view["stage"] == "closed" and view["resolution"] == "resolved"
    assert [(e["seq"], e["type"], e["source"]) for e in view["timeline"]] == [
        (1, "case.registered", "tax"), (2, "case.accepted", "hrss"), (3, "case.handled", "hrss"),
        (4, "case.feedback_given", "tax"), (5, "case.closed", "tax")]
    assert all(e["trigger"] == "message" for e in view["timeline"])
    assert view["deadlines"] == []


def test_a_deadline_past_due_shows_as_overdue_with_negative_time_left(client: TestClient, clock: Clock) -> None:
    case_id = _register(client)["case_id"]
    clock.advance(days=10)  # well past one working day to sign

    view = client.get(f"/v1/cases/{case_id}", headers=auth("hrss")).json()
    [sign] = view["deadlines"]

    assert view["overdue"] is True and sign["overdue"] is True and sign["seconds_left"] < 0


def test_personal_data_is_shown_to_the_cases_departments_and_masked_for_the_office(client: TestClient) -> None:
    case_id = _register(client)["case_id"]

    intake = client.get(f"/v1/cases/{case_id}", headers=auth("tax")).json()
    office = client.get(f"/v1/cases/{case_id}", headers=auth("lgo")).json()

    assert intake["registration"]["party"]["id_number"] == "340322198503151230"
    assert intake["personal_data_masked"] is False
    assert office["registration"]["party"]["id_number"] == "3403**********1230"
    assert office["registration"]["party"]["phone"] == "1380***0001"
    assert office["personal_data_masked"] is True
    assert office["registration"]["employer"] == intake["registration"]["employer"]  # not personal data


def test_a_case_the_department_does_not_follow_answers_exactly_as_an_unknown_one(client: TestClient) -> None:
    case_id = _register(client)["case_id"]

    hidden = client.get(f"/v1/cases/{case_id}", headers=auth("court"))
    unknown = client.get("/v1/cases/tax-2026-999999", headers=auth("court"))

    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()


def test_the_task_force_sees_a_case_once_it_is_escalated_to_it(client: TestClient) -> None:
    case_id = _register(client)["case_id"]
    before = client.get(f"/v1/cases/{case_id}", headers=auth("taskforce")).status_code

    escalation = {"from_tier": "routine", "to_tier": "difficult", "trigger": "manual", "reason": "无法限时办结",
                  "convene_by": None}  # fmt: skip
    message = envelope("case.accepted", case_id=case_id, type="case.escalated", payload=escalation)
    assert client.post("/v1/messages", content=body(message), headers=auth("hrss")).status_code == 202

    after = client.get(f"/v1/cases/{case_id}", headers=auth("taskforce"))
    listed = client.get("/v1/cases", headers=auth("taskforce")).json()["items"]
    assert (before, after.status_code, after.json()["tier"]) == (404, 200, "difficult")
    assert [c["case_id"] for c in listed] == [case_id]


def test_the_ledger_pages_through_every_visible_case_once(client: TestClient) -> None:
    ids = [_register(client)["case_id"] for _ in range(7)]
    _register(client, "medins")  # invisible to tax

    seen: list[str] = []
    url: str | None = "/v1/cases?limit=3"
    pages = 0
    while url is not None:
        page = client.get(url, headers=auth("tax")).json()
        seen += [item["case_id"] for item in page["items"]]
        url, pages = page["next"], pages + 1

    assert (seen, pages) == (ids, 3)


def test_the_ledger_filters_by_status_department_tier_and_overdue(
    client: TestClient, runtime: HubRuntime, clock: Clock
) -> None:
    routed = _register(client)["case_id"]
    signed = _register(client)["case_id"]
    _send(client, "hrss", "case.accepted", signed)
    clock.advance(days=10)  # routed's sign deadline is past; signed's handle deadline is not

    def ids(query: str, department: str = "lgo") -> list[str]:
        answer = client.get(f"/v1/cases?{query}", headers=auth(department))
        assert answer.status_code == 200, answer.text
        return [item["case_id"] for item in answer.json()["items"]]

    assert ids("status=routed") == [routed]
    assert ids("status=open") == [routed, signed]
    assert ids("status=closed") == []
    assert ids("overdue=true") == [routed]
    assert ids("overdue=false") == [signed]
    assert ids("department=hrss") == [routed, signed]
    assert ids("department=court") == []
    assert ids("tier=difficult") == []
    assert ids("status=accepted", department="hrss") == [signed]


def test_a_bad_query_parameter_is_a_problem_naming_it(client: TestClient) -> None:
    answer = client.get("/v1/cases?limit=0", headers=auth("tax"))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"].startswith("query.limit")


def test_concurrent_registrations_get_distinct_numbers_across_reserved_blocks(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # 45 registrations at once cross two refills of the 20-number reserve while others wait on it.
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: client.post("/v1/cases", json=registration(), headers=auth("tax")),
                                range(45)))  # fmt: skip

    assert {a.status_code for a in answers} == {201}
    numbers = sorted(int(a.json()["case_id"].rsplit("-", 1)[1]) for a in answers)
    assert numbers == list(range(1, 46))
    assert all(a.headers["location"] == f"/v1/cases/{a.json()['case_id']}" for a in answers)
