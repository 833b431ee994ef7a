"""The base of every contract model, and shared parts (parties, periods)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from contracts.codes import PartyKind
from contracts.values import IdNumber, Label, Period, Phone, Uscc


class Contract(BaseModel):
    """An immutable wire value: unknown fields refused, no type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def rule_error(rule: str, message: str, field: str | None = None) -> PydanticCustomError:
    """A cross-field rule violation (reason ``schema_violation``), optionally naming its field."""
    return PydanticCustomError(
        "sihub_rule", "{message}", {"rule": rule, "message": message, "field": field or ""}
    )


def schema_when(field: str, value: str, then: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema ``if``/``then``: when ``field`` is ``value``, ``then`` applies too."""
    return {"if": {"properties": {field: {"const": value}}, "required": [field]}, "then": then}


def schema_not_null(field: str) -> dict[str, Any]:
    """A JSON Schema fragment: ``field`` is present and a string (not null)."""
    return {"required": [field], "properties": {field: {"type": "string"}}}


def check_period_order(start: str, end: str, field: str = "end") -> None:
    """A period ends on or after it starts (``YYYY-MM`` strings sort as months)."""
    if end < start:
        raise rule_error("period_order", f"period ends {end}, before it starts {start}", field)


class FeePeriod(Contract):
    """Months the disputed fees belong to (费款所属期)."""

    model_config = ConfigDict(json_schema_extra={"format": "sihub-period-range"})

    start: Period
    end: Period

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        check_period_order(self.start, self.end)
        return self


class Party(Contract):
    """The person or employer who raised the dispute (personal data: never logged)."""

    model_config = ConfigDict(
        json_schema_extra={
            "format": "sihub-party",
            # _identified in JSON Schema terms, for validators that do not check formats
            **schema_when("kind", PartyKind.EMPLOYER.value, schema_not_null("uscc")),
            "else": schema_not_null("id_number"),
        }
    )

    kind: PartyKind
    name: Label
    id_number: IdNumber | None
    uscc: Uscc | None
    phone: Phone | None

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if self.kind is PartyKind.EMPLOYER and self.uscc is None:
            raise rule_error("party_identifier", "an employer party carries a credit code", "uscc")
        if self.kind is not PartyKind.EMPLOYER and self.id_number is None:
            raise rule_error("party_identifier", "a person party carries an ID number", "id_number")
        return self


class Employer(Contract):
    """An employer named in a dispute or a notice."""

    name: Label
    uscc: Uscc
