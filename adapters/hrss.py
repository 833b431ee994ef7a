"""The HR & social security bureau's adapter (县人力资源社会保障局, ``hrss``).

Receives routed and transferred cases about pension (110, 120, 170), unemployment
(210) and work injury (410), and the tax bureau's payment details of those
insurance types; signs for, transfers, objects to and reports on cases; answers
payment receipts automatically; confirms arrears data on request. Everything it
does is in :class:`~adapters.insurance.InsuranceAdapter`.
"""

from __future__ import annotations

from typing import ClassVar

from adapters.insurance import InsuranceAdapter
from contracts.codes import Department


class HrssAdapter(InsuranceAdapter):
    """The ``hrss`` adapter."""

    code: ClassVar[Department] = Department.HRSS
