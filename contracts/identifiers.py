"""Check characters of Chinese identifiers: GB 11643 ID numbers and GB 32100 credit codes.

Plain functions over strings; the pydantic types in :mod:`contracts.values` call
them. Each ``*_problem`` function returns ``None`` for a valid value, or a short
English sentence saying what is wrong (used verbatim in reject details).
"""

from __future__ import annotations

import re

#: GB 11643 weights of the first 17 digits.
ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: GB 11643 check character, indexed by the weighted sum mod 11.
ID_NUMBER_CHECK = "10X98765432"
# ASCII digits only: ``\d`` would also admit fullwidth digits such as "３", which ``int()`` reads.
_ID_NUMBER_SHAPE = re.compile(r"[0-9]{17}[0-9X]")

#: GB 32100 character set; a character's value is its position.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: GB 32100 weights of the first 17 characters: 3^i mod 31.
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(rf"[{USCC_CHARSET}]{{18}}")


def id_number_check_char(first17: str) -> str:
    """The GB 11643 check character for 17 leading digits."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, ID_NUMBER_WEIGHTS, strict=True)
    )
    return ID_NUMBER_CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """What is wrong with a resident ID number, or ``None`` if it is valid."""
    if not _ID_NUMBER_SHAPE.fullmatch(value):
        return "must be 17 digits followed by a digit or 'X' (18 characters)"
    expected = id_number_check_char(value[:17])
    if value[17] != expected:
        return f"check digit should be {expected}"
    return None


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for 17 leading characters."""
    total = sum(
        USCC_CHARSET.index(char) * weight
        for char, weight in zip(first17, USCC_WEIGHTS, strict=True)
    )
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_problem(value: str, known_exceptions: frozenset[str] = frozenset()) -> str | None:
    """What is wrong with a unified social credit code, or ``None`` if it is valid.

    Codes in ``known_exceptions`` (genuine early codes that fail the checksum, as
    listed by the county) are accepted as they are.
    """
    if value in known_exceptions:
        return None
    if not _USCC_SHAPE.fullmatch(value):
        return f"must be 18 characters from {USCC_CHARSET}"
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"check character should be {expected}"
    return None


def mask(value: str, keep_head: int = 4, keep_tail: int = 4) -> str:
    """Mask personal data for logs: ``340322198503151232`` → ``3403**********1232``."""
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]
