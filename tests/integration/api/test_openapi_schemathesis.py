"""Schemathesis against the real server's OpenAPI document: no 500s, no answer off its schema.

Hypothesis generates requests for every operation from the document itself (valid
and invalid bodies, parameters and headers), sent with the tax bureau's token,
which reaches every operation. Two checks judge every response:
``not_a_server_error`` and ``response_schema_conformance``. Examples per operation
are bounded so the whole run stays well under a minute.

(schemathesis' own pytest plugin does not run under pytest 9 yet, so each operation
is driven with its strategy and ``hypothesis.given`` here.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from contracts.codes import Department

from .conftest import TOKENS, HubServer

pytestmark = pytest.mark.integration

#: Examples per operation: enough to reach every documented status, bounded for CI time.
EXAMPLES_PER_OPERATION = 30
OPERATIONS = [
    ("POST", "/v1/messages"),
    ("POST", "/v1/cases"),
    ("GET", "/v1/cases"),
    ("GET", "/v1/cases/{case_id}"),
    ("POST", "/v1/payment-details"),
    ("GET", "/v1/contracts"),
    ("GET", "/v1/contracts/asyncapi"),
    ("GET", "/v1/contracts/{type}"),
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
]


@pytest.fixture(scope="module")
def api_schema(hub_server: HubServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{hub_server.base_url}/openapi.json")


def test_the_fuzzed_operations_are_every_operation_of_the_document(api_schema: schemathesis.BaseSchema) -> None:
    documented = set()
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document must be loadable whole
        documented.add((result.ok().method.upper(), result.ok().path))

    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_every_generated_request_as_its_document_says(
    api_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {TOKENS[Department.TAX]}"}
    # The documented examples too: generated registrations rarely carry valid check digits.
    examples = api_schema.get_strategies_from_examples(operation)
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE),
                      *examples)  # fmt: skip

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases)
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance],
                               timeout=30)  # fmt: skip

    answers_as_documented()
