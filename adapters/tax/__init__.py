"""The tax bureau's adapter: payment-detail exports, disputes, arrears and enforcement."""

from adapters.tax.adapter import PushResult, TaxAdapter
from adapters.tax.export import ExportReport, read_export
from adapters.tax.rows import ColumnMap, RowProblem

__all__ = ["ColumnMap", "ExportReport", "PushResult", "RowProblem", "TaxAdapter", "read_export"]
