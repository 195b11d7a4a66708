"""Play a synthetic cohort through the real HTTP API, as caseworkers would.

Every case is created with its true Day 0 and every event entered with its true (past)
date, so the workflows evaluate each limit at once: no waiting and no time skipping. Cases
are played concurrently (each case's own calls in order). The player needs an HTTP client
(``httpx``, from the ``test`` extra) pointed at the API and a caseworker token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from ehc.synthetic.generator import CaseScript, Cohort, Step


class PlayError(RuntimeError):
    """The API refused a call the script expected it to accept."""


@dataclass(frozen=True)
class Played:
    """What the API answered last for a case: the stage and the last audit sequence
    number, which the store's projection must reach."""

    case_ref: str
    stage: str
    last_seq: int


def _path(script: CaseScript, step: Step, advice_ids: dict[int, str]) -> str:
    if step.action == "advice-received":
        assert step.advice_index is not None
        return f"/advice-requests/{advice_ids[step.advice_index]}/received"
    if step.action == "advice-request":
        return f"/assessments/{script.case_ref}/advice-requests"
    if step.action == "exception":
        return f"/assessments/{script.case_ref}/exceptions"
    return f"/assessments/{script.case_ref}/{step.action}"


BUSY_RETRIES = 10  # a 503 says "try again": as a caseworker's client would, up to this often
BUSY_WAIT_CAP = 5.0  # seconds, whatever Retry-After asks


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "1")), BUSY_WAIT_CAP)
    except ValueError:
        return 1.0


async def _post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str], ref: str
) -> dict[str, Any]:
    """POST and return the answer. A 503 (Temporal or the worker slower than the API's
    deadline on a busy machine) is retried with the same body after its Retry-After: the
    API records a repeated body once."""
    response = await http.post(path, json=body, headers=headers)
    for _ in range(BUSY_RETRIES):
        if response.status_code != 503:
            break
        await asyncio.sleep(_retry_after(response))
        response = await http.post(path, json=body, headers=headers)
    if response.status_code not in (200, 201):
        raise PlayError(f"{ref}: POST {path} answered {response.status_code}: {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


async def play_case(http: httpx.AsyncClient, script: CaseScript, headers: dict[str, str]) -> Played:
    view = await _post(http, "/assessments", script.create_body(), headers, script.case_ref)
    advice_ids: dict[int, str] = {}  # the script's advice index -> the id the workflow gave
    for step in script.steps():
        answer = await _post(
            http, _path(script, step, advice_ids), step.body, headers, script.case_ref
        )
        if step.action == "advice-request":
            assert step.advice_index is not None
            advice_ids[step.advice_index] = str(answer["id"])
            view = answer["case"]
        else:
            view = answer
    last_seq = max(int(e["seq"]) for e in view["events"])
    return Played(script.case_ref, str(view["stage"]), last_seq)


async def play(
    http: httpx.AsyncClient,
    cohort: Cohort | list[CaseScript],
    *,
    headers: dict[str, str],
    concurrency: int = 8,
) -> dict[str, Played]:
    """Play every case; returns what the API answered last for each, by case_ref."""
    scripts = cohort.scripts if isinstance(cohort, Cohort) else cohort
    gate = asyncio.Semaphore(concurrency)

    async def one(script: CaseScript) -> Played:
        async with gate:
            return await play_case(http, script, headers)

    played = await asyncio.gather(*(one(s) for s in scripts))
    return {p.case_ref: p for p in played}
