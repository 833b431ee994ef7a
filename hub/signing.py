"""Message signatures between agencies (DESIGN §4): Ed25519 over the exact body bytes.

Headers ``x-sihub-signature`` (base64) and ``x-sihub-key-id``. The hub verifies a
department's signature against its registered public key and signs what it emits
with its own key. Signatures live outside the body, so the envelope never changes.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_HEADER = "x-sihub-signature"
KEY_ID_HEADER = "x-sihub-key-id"


class SignatureError(Exception):
    """A signature is missing where required, names an unknown key, or does not verify."""


@dataclass(frozen=True)
class KeyRing:
    """Registered public keys: key id → (department code, key)."""

    keys: Mapping[str, tuple[str, Ed25519PublicKey]]

    @classmethod
    def load(cls, path: Path | None) -> KeyRing:
        """Read ``{"key-id": {"department": "tax", "public_key": "<base64 raw 32 bytes>"}}``."""
        if path is None:
            return cls({})
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = {
            key_id: (
                entry["department"],
                Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"])),
            )
            for key_id, entry in data.items()
        }
        return cls(keys)

    def verify(
        self, body: bytes, headers: Mapping[str, Any], department: str, *, required: bool
    ) -> bool:
        """Whether ``body`` carries a valid signature of ``department`` (False: unsigned, allowed).

        Raises:
            SignatureError: a bad, foreign or unknown-key signature; or none where required.
        """
        signature, key_id = headers.get(SIGNATURE_HEADER), headers.get(KEY_ID_HEADER)
        if signature is None and key_id is None:
            if required:
                raise SignatureError("the message is not signed; this county requires signatures")
            return False
        if not isinstance(signature, str | bytes) or not isinstance(key_id, str | bytes):
            raise SignatureError(f"{SIGNATURE_HEADER} and {KEY_ID_HEADER} go together")
        key_name = key_id.decode() if isinstance(key_id, bytes) else key_id
        entry = self.keys.get(key_name)
        if entry is None:
            raise SignatureError(f"key {key_name!r} is not registered")
        owner, public = entry
        if owner != department:
            raise SignatureError(f"key {key_name!r} belongs to {owner}, not {department}")
        try:
            public.verify(base64.b64decode(signature, validate=True), body)
        except (InvalidSignature, binascii.Error, ValueError):
            raise SignatureError("the signature does not match the body") from None
        return True


@dataclass(frozen=True)
class Signer:
    """Signs bodies with one private key."""

    key_id: str
    key: Ed25519PrivateKey

    @classmethod
    def load(cls, path: Path, key_id: str = "hub") -> Signer:
        """A signer from a PEM private key file."""
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key_id, key)

    def headers(self, body: bytes) -> dict[str, str]:
        """The signature headers for ``body``."""
        return {
            SIGNATURE_HEADER: base64.b64encode(self.key.sign(body)).decode(),
            KEY_ID_HEADER: self.key_id,
        }

    def public_b64(self) -> str:
        """The raw public key, base64, as a key ring file holds it."""
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()
