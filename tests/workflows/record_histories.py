"""Record the replay corpus: one saved history per path of an assessment.

Run after a deliberate, versioned change to the workflow (``workflow.patched``) to add new
histories; never regenerate the old ones to make the replay test pass:

    .venv/bin/python -m tests.workflows.record_histories
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.directory import load as load_directory_file
from ehc.store import chasing_repository
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from tests.api.scenarios import create_case, weeks
from tests.conftest import TEAMS_FILE, Stack, make_tokens, open_stack, start_time_skipping
from workflows.assessment import workflow_id

HISTORIES = Path(__file__).parent / "histories"
Path_ = Callable[[Stack], Awaitable[str]]


async def _post(s: Stack, ref: str, path: str, body: dict[str, str]) -> None:
    response = await s.post(f"/assessments/{ref}/{path}", body)
    assert response.status_code < 300, response.text


async def on_time(s: Stack) -> str:
    day0 = await s.today() - weeks(19)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(5)).isoformat()},
    )
    await s.post(
        f"/advice-requests/{r.json()['id']}/received",
        {"received_on": (day0 + weeks(9)).isoformat()},
    )
    await _post(
        s,
        ref,
        "decision-to-issue",
        {"decision": "issue", "decided_on": (day0 + weeks(11)).isoformat()},
    )
    await _post(s, ref, "draft-plan", {"served_on": (day0 + weeks(13)).isoformat()})
    await _post(s, ref, "final-plan", {"issued_on": (day0 + weeks(18)).isoformat()})
    await s.sleep(timedelta(days=30))
    return ref


async def breached_by_timer(s: Stack) -> str:
    day0 = await s.today()
    ref = str((await create_case(s, day0))["case_ref"])
    await s.sleep(weeks(7))
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(6)).isoformat()},
    )
    await s.sleep(weeks(14))
    return ref


async def exception_and_refusal(s: Stack) -> str:
    day0 = await s.today() - weeks(8)
    ref = str((await create_case(s, day0))["case_ref"])
    await s.post(
        f"/assessments/{ref}/exceptions",
        {
            "limit": "decision_to_assess",
            "kind": "personal_circumstances",
            "reason": "illness",
            "starts_on": (day0 + weeks(2)).isoformat(),
        },
    )
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "not_assess", "decided_on": (day0 + weeks(7)).isoformat()},
    )
    return ref


async def no_plan(s: Stack) -> str:
    day0 = await s.today() - weeks(17)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(6)).isoformat()},
    )
    await _post(
        s,
        ref,
        "decision-to-issue",
        {"decision": "not_issue", "decided_on": (day0 + weeks(15)).isoformat()},
    )
    return ref


async def withdrawn(s: Stack) -> str:
    day0 = await s.today() - weeks(3)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "withdrawal",
        {"withdrawn_on": (day0 + weeks(2)).isoformat(), "reason": "moved away"},
    )
    await s.sleep(timedelta(days=30))
    return ref


async def corrected_and_reopened(s: Stack) -> str:
    """Patches advice-case-moved-on and advice-backdated-request-first; corrections,
    reopening and a change to the child's details."""
    day0 = await s.today() - weeks(8)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(7)).isoformat()},
    )
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(1)).isoformat()},
    )
    assert r.status_code == 201, r.text
    await _post(
        s,
        ref,
        "withdrawal",
        {"withdrawn_on": (day0 + weeks(8)).isoformat(), "reason": "wrong case"},
    )
    await _post(s, ref, "reopen", {"reason": "entered on the wrong case"})
    view = (await s.get(f"/assessments/{ref}")).json()
    decision = next(e for e in view["events"] if e["kind"] == "decision_to_assess")
    await s.post(
        f"/assessments/{ref}/corrections",
        {
            "event_id": decision["seq"],
            "changes": {"decided_on": (day0 + weeks(5)).isoformat()},
            "reason": "typo",
        },
    )
    response = await s.http.patch(
        f"/assessments/{ref}/child", json={"setting": "OLA"}, headers=s.headers()
    )
    assert response.status_code == 200, response.text
    await s.sleep(timedelta(days=1))
    return ref


PATHS: dict[str, Path_] = {
    "corrected_and_reopened": corrected_and_reopened,
    "on_time": on_time,
    "breached_by_timer": breached_by_timer,
    "exception_and_refusal": exception_and_refusal,
    "no_plan": no_plan,
    "withdrawn": withdrawn,
}


async def record(sessions: async_sessionmaker[AsyncSession], tokens: dict[str, str]) -> None:
    HISTORIES.mkdir(exist_ok=True)
    env = await start_time_skipping()
    try:
        async for stack in open_stack(env, sessions, tokens):
            for name, path in PATHS.items():
                if (HISTORIES / f"{name}.json").exists():
                    continue  # never regenerate a saved history
                ref = await path(stack)
                history = await env.client.get_workflow_handle(workflow_id(ref)).fetch_history()
                (HISTORIES / f"{name}.json").write_text(history.to_json())
                print(f"recorded {name}")
    finally:
        await env.shutdown()


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/ehc.db"
        await upgrade(url)
        engine = make_engine(url)
        sessions = sessionmaker(engine)
        async with sessions() as session:
            for team in load_directory_file(TEAMS_FILE).teams:
                await chasing_repository.save_team(session, team)
            await session.commit()
        await record(sessions, await make_tokens(sessions))
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
