"""``/v1/contracts``: the catalogue, each type's JSON Schema, and the AsyncAPI document."""

from __future__ import annotations

import jsonschema
from starlette.testclient import TestClient

from contracts.catalogue import CATALOGUE
from contracts.jsonschema_formats import schema_validator
from tests.contract.support import example

from .helpers import auth


def test_the_catalogue_lists_every_message_type_with_where_its_schema_is(client: TestClient) -> None:
    listed = client.get("/v1/contracts", headers=auth("court")).json()

    assert {c["type"] for c in listed["contracts"]} == set(CATALOGUE)
    accepted = next(c for c in listed["contracts"] if c["type"] == "case.accepted")
    assert (accepted["latest"], accepted["schema_url"]) == (1, "/v1/contracts/case.accepted")
    assert client.get(accepted["schema_url"], headers=auth("court")).status_code == 200


def test_a_types_schema_validates_its_example_and_refuses_a_spoiled_one(client: TestClient) -> None:
    schema = client.get("/v1/contracts/case.registered", headers=auth("tax")).json()
    message = example("case.registered.json")

    assert schema["$id"] == "urn:sihub:contract:case.registered:v1"
    schema_validator(schema).validate(message)
    message["payload"]["category"] = "gossip"
    assert not schema_validator(schema).is_valid(message)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_an_unknown_type_is_a_404_problem(client: TestClient) -> None:
    answer = client.get("/v1/contracts/case.gossiped", headers=auth("tax"))

    assert (answer.status_code, answer.headers["content-type"]) == (404, "application/problem+json")


def test_the_asyncapi_document_names_every_message_type(client: TestClient) -> None:
    document = client.get("/v1/contracts/asyncapi", headers=auth("hrss")).json()

    assert document["asyncapi"].startswith("3.")
    text = str(document)
    assert all(type_ in text for type_ in CATALOGUE)
