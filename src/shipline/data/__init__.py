"""Data: versioned snapshots of training data, their schemas and differences."""

from shipline.data.data_file import Column
from shipline.data.dataset_diff import DatasetDiff, diff_versions
from shipline.data.dataset_version import (
    DataFile,
    DatasetVersion,
    get_version,
    list_versions,
    resolve_version,
)
from shipline.data.frame import read_frame
from shipline.data.snapshot import AddResult, add_version
from shipline.data.split import split_frame
from shipline.data.validation import ValidationReport, validate_data

__all__ = [
    "AddResult",
    "Column",
    "DataFile",
    "DatasetDiff",
    "DatasetVersion",
    "ValidationReport",
    "add_version",
    "diff_versions",
    "get_version",
    "list_versions",
    "read_frame",
    "resolve_version",
    "split_frame",
    "validate_data",
]
