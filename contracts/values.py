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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
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


_MONEY = re.compile(r"\d{1,13}(\.\d{1,2})?")


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


ID_NUMBER_PATTERN = r"^\d{17}[0-9X]$"
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
    StringConstraints(pattern=r"^\d{9}(\d{3})?$"),
    AfterValidator(_check_jurisdiction),
]
#: A fee month ``YYYY-MM``.
Period = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
#: A non-negative amount in yuan with at most two places; a string on the wire.
Yuan = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    AfterValidator(_check_money),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{1,13}(\.\d{1,2})?$",
            "description": "Amount in yuan as a decimal string, at most two places, never a number.",
        }
    ),
]
#: An instant with an explicit UTC offset (the county works in Asia/Shanghai).
Instant = AwareDatetime
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
    "IdNumber",
    "Instant",
    "Jurisdiction",
    "Label",
    "Period",
    "Phone",
    "Text",
    "Uscc",
    "ValidationSettings",
    "Yuan",
]
