"""One reference syntax: ``:`` a version, ``@`` an alias; datasets' ``@vN`` is a version."""

from __future__ import annotations

import pytest

from shipline.errors import UsageError
from shipline.server.runner import parse_targets
from shipline.types import Reference, parse_reference


def test_models_and_datasets_read_references_the_same_way() -> None:
    assert parse_reference("churn", "model") == Reference("churn")
    assert parse_reference("churn:3", "model") == Reference("churn", 3)
    assert parse_reference("churn@production", "model") == Reference("churn", alias="production")
    assert parse_reference("churn@v2", "model") == Reference("churn", alias="v2")  # an alias
    assert parse_reference("churn:3", "dataset", dataset=True) == Reference("churn", 3)
    assert parse_reference("churn@v2", "dataset", dataset=True) == Reference("churn", 2)
    assert parse_reference("churn@production", "dataset", dataset=True) is None
    assert parse_reference("a:b:c", "model") is None
    with pytest.raises(UsageError, match="model name"):
        parse_reference("../x:1", "model")


def test_serving_targets_need_an_alias() -> None:
    assert parse_targets(["churn@production", "fraud@staging"]) == [
        ("churn", "production"),
        ("fraud", "staging"),
    ]
    for bad in (["churn"], ["churn:3"], ["churn@a", "churn@b"]):
        with pytest.raises(UsageError):
            parse_targets(bad)
