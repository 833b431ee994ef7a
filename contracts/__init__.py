"""sihub message contracts: envelope, codes, identifiers and every message type (DESIGN §4).

Pure data: no I/O, no broker, no database. The one entry point for bytes from the
wire is :func:`parse`; messages the hub emits are built with :func:`build`.
"""

from contracts.build import build
from contracts.catalogue import CATALOGUE
from contracts.codes import Department, RejectReason, Tier
from contracts.envelope import AnyEnvelope, Envelope
from contracts.errors import ContractError, Rejected
from contracts.parse import MAX_BODY_BYTES, parse
from contracts.registry import ContractVersion, Registry, default_registry
from contracts.values import ValidationSettings

__all__ = [
    "CATALOGUE",
    "MAX_BODY_BYTES",
    "AnyEnvelope",
    "ContractError",
    "ContractVersion",
    "Department",
    "Envelope",
    "Registry",
    "RejectReason",
    "Rejected",
    "Tier",
    "ValidationSettings",
    "build",
    "default_registry",
    "parse",
]
