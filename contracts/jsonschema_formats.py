"""The custom ``format`` names of the exported schemas, as a ``jsonschema.FormatChecker``.

A JSON Schema validator asserts nothing for a ``format`` unless told to: these are the
rules the schemas cannot say natively (check characters, an order between two
fields, totals). Each check reuses the runtime's own logic: the identifier
functions of :mod:`contracts.identifiers`, the wire types of :mod:`contracts.values`,
and the cross-field rules of the models themselves. ``docs/contracts.md`` describes
each one for integrators in other languages.

Needs the ``jsonschema`` package (a test dependency of sihub; the hub does not use it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from contracts.identifiers import id_number_problem, uscc_problem
from contracts.messages.arrears import ArrearsNotice
from contracts.messages.base import Contract, FeePeriod, Party
from contracts.messages.payment import PaymentDetails, PaymentReceipt, PaymentRecord
from contracts.values import Day, Instant, Uuid, ValidationSettings

__all__ = ["FORMATS", "RULE_FORMATS", "format_checker", "schema_validator"]

#: Object formats: the model whose cross-field rules (its ``sihub_rule`` errors) they are.
RULE_FORMATS: Mapping[str, type[Contract]] = {
    "sihub-period-range": FeePeriod,
    "sihub-party": Party,
    "sihub-payment-record": PaymentRecord,
    "sihub-payment-details": PaymentDetails,
    "sihub-payment-receipt": PaymentReceipt,
    "sihub-arrears-notice": ArrearsNotice,
}
#: Every format the checker knows, with what it means (the table in ``docs/contracts.md``).
FORMATS: Mapping[str, str] = {
    "date": "a calendar day YYYY-MM-DD that exists (no 2026-02-30, no year 0000)",
    "date-time": "RFC 3339 with seconds and an offset, on a day that exists",
    "uuid": "a hyphenated UUID",
    "gb11643-id-number": "GB 11643 check character of a resident ID number",
    "gb32100-uscc": "GB 32100 check character of a credit code, unless a listed exception",
    "sihub-period-range": "end month on or after start month",
    "sihub-party": "an employer carries uscc, a person id_number",
    "sihub-payment-record": "period_end on or after period_start; employer_uscc for an "
    "employer payer, person_id_number otherwise",
    "sihub-payment-details": "record_id unique within the batch",
    "sihub-payment-receipt": "received = accepted + number of rejected; rejected record_id unique",
    "sihub-arrears-notice": "period_end on or after period_start; pay_by on or after served_on",
}
_DEFAULT_SETTINGS = ValidationSettings()
_WIRE_TYPES: Mapping[str, TypeAdapter[Any]] = {
    "date": TypeAdapter(Day),
    "date-time": TypeAdapter(Instant),
    "uuid": TypeAdapter(Uuid),
}


def format_checker(settings: ValidationSettings = _DEFAULT_SETTINGS) -> FormatChecker:
    """A checker that asserts every format of :data:`FORMATS`, under the county ``settings``."""
    checker = FormatChecker(formats=())
    checker.checks("gb11643-id-number")(_on_strings(lambda value: id_number_problem(value) is None))
    checker.checks("gb32100-uscc")(
        _on_strings(lambda value: uscc_problem(value, settings.uscc_exceptions) is None)
    )
    for name, adapter in _WIRE_TYPES.items():
        checker.checks(name)(_on_strings(_reads_as(adapter)))
    for name, model in RULE_FORMATS.items():
        checker.checks(name)(_rules_hold(model, settings))
    return checker


def schema_validator(
    schema: Mapping[str, Any], settings: ValidationSettings = _DEFAULT_SETTINGS
) -> Any:
    """A draft 2020-12 validator for an exported schema that judges as the hub does.

    Besides asserting the formats, it fixes two ways Python's ``jsonschema`` departs
    from the specification: its ``pattern`` uses ``re.search``, where ``$`` also
    matches before a final newline (in ECMA-262 it does not), and its ``integer``
    admits ``2.0`` (the hub, like most JSON parsers, reads that as a float).
    """
    return _validator_class()(schema, format_checker=format_checker(settings))


def _on_strings(check: Callable[[str], bool]) -> Callable[[object], bool]:
    # A format applies to strings only; the schema's "type" reports anything else.
    return lambda instance: not isinstance(instance, str) or check(instance)


def _reads_as(adapter: TypeAdapter[Any]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            adapter.validate_json(json.dumps(value))
        except PydanticValidationError:
            return False
        return True

    return check


def _rules_hold(model: type[Contract], settings: ValidationSettings) -> Callable[[object], bool]:
    """Whether the model-level rules of ``model`` hold for an object.

    The fields themselves are the schema's business: when one is invalid the model's
    rules never run, and the format holds (the schema reports the field).
    """

    def check(instance: object) -> bool:
        if not isinstance(instance, dict):
            return True
        try:
            model.model_validate_json(json.dumps(instance), context=settings.as_context())
        except PydanticValidationError as error:
            return not any(e["type"] == "sihub_rule" and not e["loc"] for e in error.errors())
        return True

    return check


@cache
def _validator_class() -> Any:
    integers = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(
        Draft202012Validator, validators={"pattern": _ecma_pattern}, type_checker=integers
    )


def _ecma_pattern(
    validator: Any, pattern: str, instance: object, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(str(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled with ECMA-262's ``$``: the end of the input, nothing else."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out))
