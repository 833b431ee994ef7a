"""The OpenAPI document: every operation named, tagged, secured, and its errors documented."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from contracts import parse
from contracts.messages.case import CaseRegistered
from hub.api.cases import EXAMPLE_REGISTRATION
from hub.api.messages import EXAMPLE_ENVELOPE
from hub.api.problems import PROBLEM_MEDIA_TYPE

from .helpers import auth, body

OPERATIONS = ["get", "post", "put", "patch", "delete"]


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    loaded: dict[str, Any] = answer.json()
    return loaded


def _v1(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items() if path.startswith("/v1")
            for method, operation in item.items() if method in OPERATIONS]  # fmt: skip


def test_every_v1_operation_has_an_id_a_tag_the_bearer_scheme_and_a_401(document: dict[str, Any]) -> None:
    operations = _v1(document)

    assert len(operations) == 8
    assert len({op["operationId"] for _, _, op in operations}) == 8
    for _path, _method, operation in operations:
        assert operation["tags"] and operation["summary"]
        assert operation["security"] == [{"departmentToken": []}]
        assert "401" in operation["responses"]
    assert document["components"]["securitySchemes"]["departmentToken"]["scheme"] == "bearer"


def test_every_error_response_is_documented_as_a_problem(document: dict[str, Any]) -> None:
    for _path, _method, operation in _v1(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["schemas"]["Problem"]["properties"]["reject_reason"]


def test_the_documented_statuses_of_a_message_cover_every_reason_code(document: dict[str, Any]) -> None:
    from hub.api.problems import REASON_STATUS

    responses = document["paths"]["/v1/messages"]["post"]["responses"]

    assert {str(status) for status in REASON_STATUS.values()} <= set(responses)
    assert {"200", "202"} <= set(responses)


def test_the_request_body_examples_are_accepted_by_the_contracts(document: dict[str, Any]) -> None:
    registration = document["paths"]["/v1/cases"]["post"]["requestBody"]["content"]["application/json"]
    message = document["paths"]["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]

    [(_, documented_registration)] = registration["examples"].items()
    [(_, documented_message)] = message["examples"].items()
    assert documented_registration["value"] == EXAMPLE_REGISTRATION
    CaseRegistered.model_validate_json(json.dumps(EXAMPLE_REGISTRATION["payload"]))
    assert parse(body(documented_message["value"])).type == "case.accepted"
    assert documented_message["value"] == EXAMPLE_ENVELOPE
    for model in ("RegistrationIn", "EnvelopeIn", "CaseRegistered", "PetitionRegistered", "Party"):
        assert model in document["components"]["schemas"]


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    answer = client.get("/v1/nowhere", headers=auth("tax"))

    assert (answer.status_code, answer.headers["content-type"]) == (404, PROBLEM_MEDIA_TYPE)
