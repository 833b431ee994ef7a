"""Case ↔ JSON-able dict, lossless, driven by the domain's type hints.

The encoder and decoder of each type are compiled once from the dataclass
annotations, so a field added to :class:`~hub.domain.model.Case` (or anything it
holds) is stored without touching this module, and a type it cannot store fails
loudly at import time rather than losing data at run time.

Representation:

* enums → their value (a ``StrEnum`` member is kept: it is that string already); ``Literal`` and ``str``/``int``/``bool`` as they are;
* ``Decimal`` → its exact string; ``date`` → ISO; ``datetime`` → ISO with its
  offset, plus ``[Area/City]`` when it carries a ``ZoneInfo`` (RFC 9557), so the zone
  comes back too, not only the offset;
* tuples → lists; dataclasses → objects of their fields;
* pydantic contracts → ``model_dump(mode="json")``; a union of contracts adds
  ``"$model": ClassName``.

Decoding is forgiving about the *shape* of old documents: a missing field takes
its dataclass default and an unknown one is ignored, which is how stored cases
survive a new field. Contracts are re-validated, but with county settings that
accept whatever was stored (it was validated on the way in, possibly under a
configuration that has since changed).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ValidationError

from contracts.values import ValidationSettings
from hub.domain.model import Case
from hub.store.errors import DocumentError

__all__ = ["DocumentError", "decode", "dumps", "encode", "loads"]

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]
_MODEL_TAG: Final = "$model"
_SCALARS: Final = (str, int, bool, float)


def _identity(value: Any) -> Any:
    return value


def _encode_datetime(value: datetime) -> str:
    text = value.isoformat()
    zone = value.tzinfo
    return f"{text}[{zone.key}]" if isinstance(zone, ZoneInfo) and zone.key else text


def _decode_datetime(text: str) -> datetime:
    if text.endswith("]"):
        moment, _, key = text[:-1].partition("[")
        return datetime.fromisoformat(moment).astimezone(ZoneInfo(key))
    return datetime.fromisoformat(text)


def _optional(inner: tuple[Encoder, Decoder]) -> tuple[Encoder, Decoder]:
    encode_inner, decode_inner = inner
    return (
        lambda value: None if value is None else encode_inner(value),
        lambda data: None if data is None else decode_inner(data),
    )


def _tuple_of(item: tuple[Encoder, Decoder]) -> tuple[Encoder, Decoder]:
    encode_item, decode_item = item
    return (
        lambda value: [encode_item(v) for v in value],
        lambda data: tuple(decode_item(d) for d in data),
    )


def _fixed_tuple(items: list[tuple[Encoder, Decoder]]) -> tuple[Encoder, Decoder]:
    return (
        lambda value: [enc(v) for (enc, _), v in zip(items, value, strict=True)],
        lambda data: tuple(dec(d) for (_, dec), d in zip(items, data, strict=True)),
    )


def _dataclass(kind: type[Any]) -> tuple[Encoder, Decoder]:
    hints = typing.get_type_hints(kind)
    fields = [(f.name, *_codec(hints[f.name])) for f in dataclasses.fields(kind) if f.init]

    def encode_one(value: Any) -> dict[str, Any]:
        return {name: enc(getattr(value, name)) for name, enc, _ in fields}

    def decode_one(data: dict[str, Any]) -> Any:
        # Missing keys take the field default (older documents); unknown keys are ignored.
        return kind(**{name: dec(data[name]) for name, _, dec in fields if name in data})

    return encode_one, decode_one


def _trusting(data: Any) -> ValidationSettings:
    """County settings under which every stored jurisdiction and credit code is accepted."""
    counties: set[str] = set()
    codes: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and key == "jurisdiction":
                    counties.add(value[:6])
                elif isinstance(value, str) and key.endswith("uscc"):
                    codes.add(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    county = counties.pop() if len(counties) == 1 else ValidationSettings().county_code
    return ValidationSettings(county_code=county, uscc_exceptions=frozenset(codes))


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data, strict=False)
    except ValidationError:
        # Stored under another county or a credit-code exception: trust what was stored.
        return model.model_validate(data, strict=False, context=_trusting(data).as_context())


def _models(members: list[type[BaseModel]]) -> tuple[Encoder, Decoder]:
    if len(members) == 1:
        (model,) = members
        return (lambda value: value.model_dump(mode="json"), lambda data: _validate(model, data))
    by_name = {m.__name__: m for m in members}

    def encode_one(value: BaseModel) -> dict[str, Any]:
        name = type(value).__name__
        if by_name.get(name) is not type(value):
            raise TypeError(f"{name} is not one of {sorted(by_name)}")
        return {_MODEL_TAG: name, **value.model_dump(mode="json")}

    def decode_one(data: dict[str, Any]) -> BaseModel:
        fields = dict(data)
        return _validate(by_name[fields.pop(_MODEL_TAG)], fields)

    return encode_one, decode_one


def _union(args: tuple[Any, ...]) -> tuple[Encoder, Decoder]:
    members = [a for a in args if a is not type(None)]
    if len(members) < len(args):
        return _optional(_union(tuple(members)) if len(members) > 1 else _codec(members[0]))
    if all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        return _models(members)
    raise TypeError(f"cannot store a union of {members}: only contracts may be mixed")


_CACHE: dict[Any, tuple[Encoder, Decoder]] = {}


def _codec(hint: Any) -> tuple[Encoder, Decoder]:
    """The (encoder, decoder) pair of a type hint."""
    if hint in _CACHE:
        return _CACHE[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    pair: tuple[Encoder, Decoder]
    if origin is typing.Literal or hint in _SCALARS or hint is type(None):
        pair = (_identity, _identity)
    elif origin in (typing.Union, types.UnionType):
        pair = _union(args)
    elif origin is tuple:
        pair = _tuple_of(_codec(args[0])) if args[-1] is Ellipsis else _fixed_tuple([_codec(a) for a in args])
    elif hint is datetime:  # before date: a datetime is a date
        pair = (_encode_datetime, _decode_datetime)
    elif hint is date:
        pair = (date.isoformat, date.fromisoformat)
    elif hint is Decimal:
        pair = (str, Decimal)
    elif isinstance(hint, type) and issubclass(hint, Enum):
        # A str enum member already is its value to json (and reading .value is slow).
        pair = (_identity if issubclass(hint, str) else (lambda value: value.value), hint)
    elif isinstance(hint, type) and issubclass(hint, BaseModel):
        pair = _models([hint])
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        pair = _dataclass(hint)
    else:
        raise TypeError(f"the case codec cannot store {hint!r}")
    _CACHE[hint] = pair
    return pair


_ENCODE_CASE, _DECODE_CASE = _codec(Case)


def encode(case: Case) -> dict[str, Any]:
    """The case as a JSON-able dict (see the module docstring for the representation)."""
    document: dict[str, Any] = _ENCODE_CASE(case)
    return document


def decode(document: dict[str, Any]) -> Case:
    """The case :func:`encode` wrote (or an older document of it).

    Raises:
        DocumentError: the document does not describe a case.
    """
    try:
        case: Case = _DECODE_CASE(document)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DocumentError(f"not a case document: {type(error).__name__}: {error}") from error
    return case


def dumps(case: Case) -> str:
    """The case as compact JSON text (UTF-8 characters kept, not escaped).

    orjson writes exactly what ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))``
    writes for the plain JSON values :func:`encode` gives (tested), several times faster.
    """
    return orjson.dumps(encode(case)).decode()


def loads(text: str | bytes) -> Case:
    """The case :func:`dumps` wrote.

    Raises:
        DocumentError: the text is not JSON, or not a case document.
    """
    try:
        document = json.loads(text)
    except ValueError as error:
        raise DocumentError(f"not JSON: {error}") from error
    return decode(document)
