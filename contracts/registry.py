"""The catalogue of message types and versions, and the one validator built from it.

A :class:`Registry` holds every ``(type, schema_version)`` the hub accepts. Two
versions of a type may stand side by side; a message of an older version is
validated against its own schema and then upcast, step by step, to the newest
(see ``docs/contracts.md`` for what may change within a version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, cast

from pydantic import Discriminator, Tag, TypeAdapter, create_model

from contracts.envelope import AnyEnvelope, Envelope
from contracts.messages.base import Contract

Upcast = Callable[[AnyEnvelope], AnyEnvelope]


@dataclass(frozen=True)
class ContractVersion:
    """One version of one message type."""

    name: str
    version: int
    payload: type[Contract]
    envelope: type[AnyEnvelope]
    description: str
    #: Turns a message of ``version - 1`` into this version; ``None`` for the first.
    upcast_from_previous: Upcast | None

    @property
    def tag(self) -> str:
        """The discriminator tag of this version: ``type@version``."""
        return f"{self.name}@{self.version}"


def _pascal(type_: str) -> str:
    return "".join(part.capitalize() for part in type_.replace("_", ".").split("."))


def envelope_class(type_: str, version: int, payload: type[Contract]) -> type[AnyEnvelope]:
    """The envelope model of one type and version (``type`` and ``schema_version`` fixed)."""
    fixed: dict[str, Any] = {
        "type": (Literal[type_], ...),
        "schema_version": (Literal[version], ...),
    }
    model = create_model(
        f"{_pascal(type_)}V{version}",
        __base__=Envelope[payload],  # type: ignore[valid-type]
        __module__=__name__,
        **fixed,
    )
    return cast(type[AnyEnvelope], model)


def _tag_of(value: Any) -> str | None:
    if isinstance(value, dict):
        type_, version = value.get("type"), value.get("schema_version")
        if isinstance(type_, str) and type(version) is int:
            return f"{type_}@{version}"
        return None
    if isinstance(value, Envelope):
        return f"{value.type}@{value.schema_version}"
    return None


class Registry:
    """Message types by name and version; builds the validator over all of them."""

    def __init__(self) -> None:
        self._versions: dict[str, dict[int, ContractVersion]] = {}
        self._adapter: TypeAdapter[AnyEnvelope] | None = None

    def add(
        self,
        type_: str,
        version: int,
        payload: type[Contract],
        *,
        description: str = "",
        upcast_from_previous: Upcast | None = None,
    ) -> Registry:
        """Register a version; a version after the first needs its upcast from the previous."""
        versions = self._versions.setdefault(type_, {})
        if version in versions:
            raise ValueError(f"{type_} version {version} is already registered")
        if version > 1 and upcast_from_previous is None and version - 1 in versions:
            raise ValueError(
                f"{type_} version {version} needs an upcast from version {version - 1}"
            )
        versions[version] = ContractVersion(
            type_,
            version,
            payload,
            envelope_class(type_, version, payload),
            description or (payload.__doc__ or "").strip().splitlines()[0],
            upcast_from_previous,
        )
        self._adapter = None
        return self

    def types(self) -> list[str]:
        """Every registered type, sorted."""
        return sorted(self._versions)

    def knows(self, type_: str) -> bool:
        """Whether any version of ``type_`` is registered."""
        return type_ in self._versions

    def versions(self, type_: str) -> list[ContractVersion]:
        """The versions of a type, oldest first."""
        return [self._versions[type_][v] for v in sorted(self._versions[type_])]

    def latest(self, type_: str) -> ContractVersion:
        """The newest version of a type (what the hub emits and upcasts to)."""
        return self.versions(type_)[-1]

    def __iter__(self) -> Iterator[ContractVersion]:
        for type_ in self.types():
            yield from self.versions(type_)

    def adapter(self) -> TypeAdapter[AnyEnvelope]:
        """One validator over every registered type and version (a tagged union)."""
        if self._adapter is None:
            choices = tuple(Annotated[cv.envelope, Tag(cv.tag)] for cv in self)
            union = Annotated[Union[choices], Discriminator(_tag_of)]  # type: ignore[valid-type]  # noqa: UP007
            self._adapter = cast(TypeAdapter[AnyEnvelope], TypeAdapter(union))
        return self._adapter

    def upcast(self, envelope: AnyEnvelope) -> AnyEnvelope:
        """Bring a message of an older version up to the newest version of its type."""
        versions = self._versions[envelope.type]
        newest = max(versions)
        while envelope.schema_version < newest:
            step = versions[envelope.schema_version + 1].upcast_from_previous
            assert step is not None  # guaranteed by add()
            envelope = step(envelope)
        return envelope


@cache
def default_registry() -> Registry:
    """The catalogue of DESIGN §4, every type at version 1."""
    from contracts.catalogue import CATALOGUE

    registry = Registry()
    for type_, payload in CATALOGUE.items():
        registry.add(type_, 1, payload)
    return registry
