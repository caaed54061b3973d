"""Monitoring: drift between reference and current data (more arrives with the monitor verb)."""

from shipline.monitoring.drift import ColumnDrift, DriftReport, column_kind, compare_columns
from shipline.monitoring.drift_files import compare_files, drift_rules, read_columns

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "column_kind",
    "compare_columns",
    "compare_files",
    "drift_rules",
    "read_columns",
]
