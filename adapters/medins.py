"""The medical insurance bureau's adapter (县医保局, ``medins``).

Receives routed and transferred cases about basic medical insurance (310, 390) and
maternity (510), and the tax bureau's payment details of those insurance types;
signs for, transfers, objects to and reports on cases; answers payment receipts
automatically; confirms arrears data on request. Everything it does is in
:class:`~adapters.insurance.InsuranceAdapter`.
"""

from __future__ import annotations

from typing import ClassVar

from adapters.insurance import InsuranceAdapter
from contracts.codes import Department


class MedinsAdapter(InsuranceAdapter):
    """The ``medins`` adapter."""

    code: ClassVar[Department] = Department.MEDINS
