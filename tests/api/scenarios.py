"""Helpers that drive a case through the HTTP API as a caseworker would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from tests.conftest import Stack, unique_ref


def weeks(n: float) -> timedelta:
    return timedelta(days=round(7 * n))


def new_case_body(received_on: date, case_ref: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "case_ref": case_ref or unique_ref(),
        "received_on": received_on.isoformat(),
        "requested_by": "parent",
        "child": {"given_name": "Amelia", "family_name": "Testcase", "date_of_birth": "2015-03-04"},
        **extra,
    }


async def create_case(stack: Stack, received_on: date, **extra: Any) -> dict[str, Any]:
    response = await stack.post("/assessments", new_case_body(received_on, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def limit(view: dict[str, Any], name: str, advice_id: str | None = None) -> dict[str, Any]:
    for item in view["limits"]:
        if item["limit"] == name and item.get("advice_id") == advice_id:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"no {name} limit in {[i['limit'] for i in view['limits']]}")


def statuses(view: dict[str, Any]) -> dict[str, str]:
    return {
        (f"{i['limit']}:{i['advice_id']}" if i.get("advice_id") else i["limit"]): i["status"]
        for i in view["limits"]
    }


def event_kinds(view: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in view["events"]]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 10.0, what: str = "condition"
) -> None:
    """Wait (boundedly) for the store's projection, which lands a few ms after a reply."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what} not reached within {seconds}s"
        await asyncio.sleep(0.05)
