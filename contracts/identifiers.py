"""Check characters of Chinese identifiers: GB 11643 ID numbers and GB 32100 credit codes.

Plain functions over strings; the pydantic types in :mod:`contracts.values` call
them. Each ``*_problem`` function returns ``None`` for a valid value, or a short
English sentence saying what is wrong (used verbatim in reject details).
"""

from __future__ import annotations

import re
from functools import lru_cache

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


#: Distinct values whose verdict is remembered: a payer's ID number or credit code
#: repeats on many rows of an export (one per insurance type and month).
PROBLEM_CACHE_SIZE = 1 << 16

# Fast check characters, same results as the weighted sums of the standards:
# * GB 11643 weights are 2^(17-i) mod 11 for digit i (from 0), so the weighted sum is
#   2 * (the 17 digits read as a base-13 number) mod 11, since 13 ≡ 2 (mod 11);
# * GB 32100 weights are 3^i mod 31, so the weighted sum is the 17 characters' values
#   read right to left as a base-34 number mod 31, since 34 ≡ 3 (mod 31); each
#   character is first renamed to the base-34 digit of its value.
# ``int`` reads only what the shape checks let through (ASCII digits / the charset).
_ID17 = re.compile(r"[0-9]{17}")
_USCC17 = re.compile(rf"[{USCC_CHARSET}]{{17}}")
_USCC_AS_BASE34 = str.maketrans(USCC_CHARSET, "0123456789ABCDEFGHIJKLMNOPQRSTU")


def _id_check(first17: str) -> str:
    return ID_NUMBER_CHECK[2 * int(first17, 13) % 11]


def _uscc_check(first17: str) -> str:
    return USCC_CHARSET[-int(first17.translate(_USCC_AS_BASE34)[::-1], 34) % 31]


def id_number_check_char(first17: str) -> str:
    """The GB 11643 check character for 17 leading digits."""
    if _ID17.fullmatch(first17):
        return _id_check(first17)
    # anything else: the weighted sum itself, which raises on what it cannot read
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, ID_NUMBER_WEIGHTS, strict=True)
    )
    return ID_NUMBER_CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """What is wrong with a resident ID number, or ``None`` if it is valid."""
    return _id_number_problem(value)


@lru_cache(maxsize=PROBLEM_CACHE_SIZE)
def _id_number_problem(value: str) -> str | None:
    if not _ID_NUMBER_SHAPE.fullmatch(value):
        return "must be 17 digits followed by a digit or 'X' (18 characters)"
    expected = _id_check(value[:17])
    if value[17] != expected:
        return f"check digit should be {expected}"
    return None


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for 17 leading characters."""
    if _USCC17.fullmatch(first17):
        return _uscc_check(first17)
    # anything else: the weighted sum itself, which raises on what it cannot read
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
    return _uscc_problem(value)


@lru_cache(maxsize=PROBLEM_CACHE_SIZE)
def _uscc_problem(value: str) -> str | None:
    if not _USCC_SHAPE.fullmatch(value):
        return f"must be 18 characters from {USCC_CHARSET}"
    expected = _uscc_check(value[:17])
    if value[17] != expected:
        return f"check character should be {expected}"
    return None


def mask(value: str, keep_head: int = 4, keep_tail: int = 4) -> str:
    """Mask personal data for logs: ``340322198503151232`` → ``3403**********1232``."""
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]
