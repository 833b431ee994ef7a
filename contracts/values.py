"""Validated value types of the wire: identifiers, jurisdictions, periods, money, times.

Each is an ``Annotated`` type usable in any pydantic model. Errors that have a
reason code of their own (``invalid_id_number``, ``invalid_uscc``) are raised as
``PydanticCustomError`` with that code as the error type, so the parse entry point
can map them without string matching.

County-specific settings (the county code, known credit-code exceptions) come from
the validation context (:class:`ValidationSettings`); without one the defaults of
DESIGN §9 apply.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from contracts.identifiers import id_number_problem, uscc_problem

#: GB/T 2260 code of Wuhe County (DESIGN §9 ``SIHUB_COUNTY_CODE``).
DEFAULT_COUNTY_CODE = "340322"
CONTEXT_KEY = "sihub"


@dataclass(frozen=True)
class ValidationSettings:
    """County settings that some value types need; passed as pydantic validation context."""

    county_code: str = DEFAULT_COUNTY_CODE
    uscc_exceptions: frozenset[str] = field(default_factory=frozenset)

    def as_context(self) -> dict[str, ValidationSettings]:
        """The ``context=`` argument for ``model_validate*``."""
        return {CONTEXT_KEY: self}


_DEFAULT_SETTINGS = ValidationSettings()


def settings_of(info: ValidationInfo) -> ValidationSettings:
    """The settings carried by a validation context, or the defaults."""
    context = info.context
    if isinstance(context, dict):
        found = context.get(CONTEXT_KEY)
        if isinstance(found, ValidationSettings):
            return found
    return _DEFAULT_SETTINGS


def _check_id_number(value: str) -> str:
    problem = id_number_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_id_number", problem)
    return value


def _check_uscc(value: str, info: ValidationInfo) -> str:
    problem = uscc_problem(value, settings_of(info).uscc_exceptions)
    if problem is not None:
        raise PydanticCustomError("invalid_uscc", problem)
    return value


def _check_jurisdiction(value: str, info: ValidationInfo) -> str:
    county = settings_of(info).county_code
    if not value.startswith(county) or len(value) <= len(county):
        raise PydanticCustomError(
            "jurisdiction_outside_county",
            "must be a division code under county {county}",
            {"county": county},
        )
    return value


# ASCII digits only: ``\d`` would also admit fullwidth digits, which ``Decimal`` reads.
_MONEY = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")


def _parse_money(value: Any) -> Any:
    # Money crosses the wire as a decimal string; a JSON number would already have
    # been rounded by some client's float, so it is refused rather than converted.
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "money_type", 'money must be a decimal string in yuan such as "1080.00", not a number'
        )
    if not _MONEY.fullmatch(value):
        raise PydanticCustomError(
            "money_format",
            "money must be a non-negative amount in yuan with at most two decimal places",
        )
    return Decimal(value)


def _check_money(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise PydanticCustomError(
            "money_format",
            "money must be a non-negative amount in yuan with at most two decimal places",
        )
    return value


# Wire shapes of times and ids. pydantic alone also reads "1700000000" as a time and
# "0" as a date (unix timestamps), "2026-11-23 09:15+0800", and UUIDs in braces or as
# URNs; the contract is the one RFC 3339 / RFC 9562 form, checked before pydantic parses.
INSTANT_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
DAY_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_INSTANT = re.compile(INSTANT_PATTERN)
_DAY = re.compile(DAY_PATTERN)
_UUID = re.compile(UUID_PATTERN)
_INSTANT_MESSAGE = (
    "must be an RFC 3339 date-time with seconds and an offset, e.g. 2026-11-23T09:15:00+08:00"
)


def _from_wire(
    shape: re.Pattern[str], read: Callable[[str], object], error: str, message: str
) -> Callable[[Any], Any]:
    """A before-validator reading a JSON string of ``shape`` with ``read``; objects pass as they are.

    It reads the string itself, as ``_parse_money`` does, because the strict inner
    validator no longer accepts a string once a before-validator has run.
    """

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if not shape.fullmatch(value):
            raise PydanticCustomError(error, message)
        try:
            return read(value)
        except ValueError:  # a day the calendar does not have, such as 2026-02-30
            raise PydanticCustomError(error, message) from None

    return check


#: Division codes are 9 (township) or 12 (village) digits.
JURISDICTION_PATTERN = r"^[0-9]{9}([0-9]{3})?$"


def jurisdiction_pattern(county_code: str) -> str:
    """The pattern of a division code under ``county_code``: the county rule as a regex."""
    tails = [f"[0-9]{{{size - len(county_code)}}}" for size in (9, 12) if size > len(county_code)]
    if not re.fullmatch(r"[0-9]+", county_code) or not tails:
        raise ValueError(f"county code {county_code!r} is not a division code of 1 to 11 digits")
    return f"^{county_code}({'|'.join(tails)})$"


ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9X]$"
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"

#: Resident ID number (GB 11643), check digit verified.
IdNumber = Annotated[
    str,
    AfterValidator(_check_id_number),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ID_NUMBER_PATTERN,
            "format": "gb11643-id-number",
            "description": "Resident ID number; GB 11643 check digit verified.",
        }
    ),
]
#: Unified social credit code (GB 32100), check character verified unless a known exception.
Uscc = Annotated[
    str,
    AfterValidator(_check_uscc),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": USCC_PATTERN,
            "format": "gb32100-uscc",
            "description": "Unified social credit code; GB 32100 check character verified "
            "(a county may list known exceptions).",
        }
    ),
]
#: Division code (事项所在辖区) under the county, e.g. ``340322101``.
Jurisdiction = Annotated[
    str,
    StringConstraints(pattern=JURISDICTION_PATTERN),
    AfterValidator(_check_jurisdiction),
]
#: A fee month ``YYYY-MM``.
Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
#: A non-negative amount in yuan with at most two places; a string on the wire.
Yuan = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    AfterValidator(_check_money),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,13}(\.[0-9]{1,2})?$",
            "description": "Amount in yuan as a decimal string, at most two places, never a number.",
        }
    ),
]
_CENT = Decimal("0.01")


def _money_fast(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """``Yuan``'s validation, short-cut for the values it always accepts as they are.

    A plain decimal string (what JSON carries) becomes ``Decimal(value)``, and a
    non-negative ``Decimal`` of exactly two places (finite, then) is returned as it is:
    exactly what ``Yuan``'s validators give for them. Anything else goes through ``Yuan`` itself,
    so every refusal is ``Yuan``'s own. A payment part carries about 40 000 amounts;
    this saves two Python calls on each.
    """
    kind = type(value)
    if kind is str:
        if _MONEY.fullmatch(value):
            return Decimal(value)
    elif kind is Decimal and value.same_quantum(_CENT) and value >= 0:
        return value
    return handler(value)


#: ``Yuan`` (same JSON Schema, same serialisation, same errors), validated faster: for the
#: payment contracts, whose parts carry tens of thousands of amounts.
Money = Annotated[Yuan, WrapValidator(_money_fast)]
#: An instant with an explicit UTC offset (the county works in Asia/Shanghai).
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(
        _from_wire(_INSTANT, datetime.fromisoformat, "datetime_format", _INSTANT_MESSAGE)
    ),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": INSTANT_PATTERN,
            "description": "RFC 3339 date-time with seconds and an offset (Z or ±hh:mm).",
        }
    ),
]
#: A calendar day ``YYYY-MM-DD``.
Day = Annotated[
    date,
    BeforeValidator(
        _from_wire(_DAY, date.fromisoformat, "date_format", "must be a calendar date YYYY-MM-DD")
    ),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
#: A UUID in its hyphenated form, e.g. ``0193f6d2-8c1e-7b4a-9f00-5c1d2e3f4a5b``.
Uuid = Annotated[
    UUID,
    BeforeValidator(
        _from_wire(_UUID, UUID, "uuid_format", "must be a hyphenated UUID (8-4-4-4-12 hex)")
    ),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID_PATTERN}),
]
#: Short free text: names, clerk numbers, document numbers.
Label = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=False)]
#: Free text: summaries, opinions, results.
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
#: A phone number (personal data: masked in logs).
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")]
#: A count of people, records or workers.
Count = Annotated[int, Field(ge=0, le=10_000_000)]

__all__ = [
    "DEFAULT_COUNTY_CODE",
    "Count",
    "Day",
    "IdNumber",
    "Instant",
    "Jurisdiction",
    "Label",
    "Money",
    "Period",
    "Phone",
    "Text",
    "Uscc",
    "Uuid",
    "ValidationSettings",
    "Yuan",
]
