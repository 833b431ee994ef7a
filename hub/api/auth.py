"""API tokens: the ``SIHUB_TOKENS`` file maps each bearer token to one department code.

The file is JSON, ``{"<token>": "<department>", ...}``. Every value must be the code
of a department that calls the hub (DESIGN §3, not ``hub`` itself); a file that
breaks this is refused at start, so a typo cannot silently lock a department out.
The file is re-read when its modification time changes (checked at most once a
second) or on SIGHUP, so tokens can be rotated without a restart; a broken file at that point
is logged and the previous tokens stay in force.

Tokens are compared by their SHA-256 digests with :func:`hmac.compare_digest`
against every known token, so neither the time taken nor an early exit tells a
caller how much of a guess was right. Tokens never appear in logs or errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.codes import Department

log = logging.getLogger("sihub.api.auth")

#: The mtime of the tokens file is looked at no more often than this.
RELOAD_CHECK_SECONDS = 1.0
#: Shortest token accepted: a short token is guessable whatever the comparison.
MIN_TOKEN_CHARS = 16
_CODES = frozenset(d.value for d in Department)


class TokenFileError(ValueError):
    """The tokens file cannot be read, is not a JSON object, or names no department."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class TokenTable:
    """Digests of the known tokens and the department of each."""

    entries: tuple[tuple[bytes, Department], ...] = ()

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> TokenTable:
        """A table from ``{token: department code}``.

        Raises:
            TokenFileError: a value is not a department code, is ``hub``, or a token is too short.
        """
        entries = []
        for index, (token, code) in enumerate(mapping.items(), start=1):
            # Errors name the entry's position, never the token itself.
            if not isinstance(code, str) or code not in _CODES:
                raise TokenFileError(f"entry {index}: {code!r} is not a department code")
            department = Department(code)
            if department is Department.HUB:
                raise TokenFileError(f"entry {index}: 'hub' is the hub itself, not a calling department")
            if len(token) < MIN_TOKEN_CHARS:
                raise TokenFileError(f"entry {index}: a token has at least {MIN_TOKEN_CHARS} characters")
            entries.append((_digest(token), department))
        return cls(tuple(entries))

    @classmethod
    def load(cls, path: Path) -> TokenTable:
        """The table in the JSON file at ``path``.

        Raises:
            TokenFileError: the file is missing, not JSON, not an object, or has a bad entry.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise TokenFileError(f"{path}: cannot be read ({error.strerror})") from None
        except ValueError as error:
            raise TokenFileError(f"{path}: not JSON ({type(error).__name__})") from None
        if not isinstance(data, dict):
            raise TokenFileError(f"{path}: must be a JSON object mapping tokens to department codes")
        return cls.from_mapping(data)

    def department_of(self, token: str) -> Department | None:
        """The department ``token`` belongs to, or ``None``; constant time in the token."""
        wanted = _digest(token)
        found: Department | None = None
        for digest, department in self.entries:
            # No early exit: every entry is compared whatever matched.
            if hmac.compare_digest(digest, wanted):
                found = department
        return found

    def __len__(self) -> int:
        return len(self.entries)


class TokenSource:
    """The tokens in force: a file re-read when it changes, or none at all (every call refused)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Load ``path`` (``None``: no tokens).

        Raises:
            TokenFileError: the file is unusable; the process must not start with it.
        """
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._table = TokenTable.load(path) if path is not None else TokenTable()
        self._mtime_ns = self._stat()
        self._checked = clock()

    def department_of(self, token: str) -> Department | None:
        """The department of ``token`` under the tokens now in force."""
        return self.current().department_of(token)

    def current(self) -> TokenTable:
        """The table in force, re-read first if the file changed since the last look."""
        if self.path is None:
            return self._table
        now = self._clock()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            with self._lock:
                if now - self._checked >= RELOAD_CHECK_SECONDS:
                    self._checked = now
                    self._reload_if_changed()
        return self._table

    def reload(self) -> None:
        """Re-read the file now (e.g. on SIGHUP); a broken file keeps the old tokens."""
        with self._lock:
            self._checked = self._clock()
            self._reload_if_changed(force=True)

    def _reload_if_changed(self, force: bool = False) -> None:
        assert self.path is not None
        mtime = self._stat()
        if mtime == self._mtime_ns and not force:
            return
        try:
            table = TokenTable.load(self.path)
        except TokenFileError as error:
            log.error("tokens file changed but is unusable, keeping the previous tokens: %s", error)
            return
        self._table, self._mtime_ns = table, mtime
        log.info("tokens reloaded: %d tokens", len(table))

    def _stat(self) -> int | None:
        if self.path is None:
            return None
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None


def reload_on_sighup(tokens: TokenSource) -> bool:
    """Re-read ``tokens`` on SIGHUP (only possible from the main thread); whether it was set up."""
    if tokens.path is None or threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(signal.SIGHUP, lambda signum, frame: tokens.reload())
    return True
