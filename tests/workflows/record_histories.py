"""Record the replay corpus: saved histories of every workflow type, one per path.

``histories/<type>/<path>.json``, where ``<type>`` is ``assessment``, ``advice`` (an
``AdviceRequest`` chaser) or ``postbox`` (a digest). Run after a deliberate, versioned change
to a workflow (``workflow.patched``) to add histories of the new behaviour; existing files are
never overwritten, so old histories keep guarding old behaviour:

    .venv/bin/python -m tests.workflows.record_histories
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ehc.directory import load as load_directory_file
from ehc.store import advice_requests
from ehc.store.db import make_engine, sessionmaker
from ehc.store.migrate import upgrade
from tests.api.scenarios import create_case, weeks
from tests.conftest import (
    TEAMS_FILE,
    MailServer,
    Stack,
    make_tokens,
    open_stack,
    start_time_skipping,
    unique_ref,
)
from workflows.advice import advice_workflow_id
from workflows.assessment import workflow_id
from workflows.postbox import postbox_id

HISTORIES = Path(__file__).parent / "histories"
# A path plays a scenario and names the workflows whose histories it saves:
# {(workflow type folder, history name): workflow id}.
Path_ = Callable[[Stack], Awaitable[dict[tuple[str, str], str]]]


def _case(name: str) -> Callable[[Callable[[Stack], Awaitable[str]]], Path_]:
    """Adapt an assessment scenario (returning its case ref) to a recording path."""

    def wrap(scenario: Callable[[Stack], Awaitable[str]]) -> Path_:
        async def path(s: Stack) -> dict[tuple[str, str], str]:
            return {("assessment", name): workflow_id(await scenario(s))}

        return path

    return wrap


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


async def readings_2026(s: Stack) -> str:
    """The readings of rules.md section 8: a decision notified after it was made, CoP advice
    (guidance) breached, the no-plan limit pending past week 16, then a late no-plan notice."""
    day0 = await s.today() - weeks(17)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "decision-to-assess",
        {
            "decision": "assess",
            "decided_on": (day0 + weeks(5)).isoformat(),
            "notified_on": (day0 + weeks(6)).isoformat(),
        },
    )
    await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "education", "requested_on": (day0 + weeks(6)).isoformat()},
    )
    await s.sleep(weeks(1))
    await _post(
        s,
        ref,
        "decision-to-issue",
        {
            "decision": "not_issue",
            "decided_on": (day0 + weeks(17)).isoformat(),
            "notified_on": (day0 + weeks(18)).isoformat(),
        },
    )
    return ref


async def representations_run_out(s: Stack) -> str:
    """Updates that answer once projected, and the representations period running out
    with no event of its own (patches reply-after-projection, project-quiet-status-changes)."""
    day0 = await s.today() - weeks(13)
    ref = str((await create_case(s, day0))["case_ref"])
    await _post(
        s,
        ref,
        "decision-to-assess",
        {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()},
    )
    await _post(
        s,
        ref,
        "decision-to-issue",
        {"decision": "issue", "decided_on": (day0 + weeks(11)).isoformat()},
    )
    await _post(s, ref, "draft-plan", {"served_on": (await s.today()).isoformat()})
    await s.sleep(timedelta(days=16))
    await _post(s, ref, "final-plan", {"issued_on": (await s.today()).isoformat()})
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


async def corrected_with_chaser(s: Stack) -> dict[tuple[str, str], str]:
    """``corrected_and_reopened`` with every patch of 2026-11-30, and its backdated health
    request's chaser (patch advice-backdated-request-first)."""
    ref = await corrected_and_reopened(s)
    return {
        ("assessment", "corrected_and_reopened_2026_11_30"): workflow_id(ref),
        ("advice", "backdated_request_first"): advice_workflow_id(f"{ref}-adv1"),
    }


async def imported_then_carried_on(s: Stack) -> str:
    """``ehc import cases`` (patch bulk-history-at-start): a case started with its history
    (a late decision to assess, two advice requests, one received) in its input, then
    carried on through the API to its final plan, and closed."""
    import csv

    from ehc.importer import COLUMNS
    from ehc_cli import bulk_import

    day0 = await s.today() - weeks(16)
    ref = unique_ref("IMP")
    row = {
        "case_ref": ref,
        "received_on": day0.isoformat(),
        "requested_by": "parent",
        "given_name": "Ada",
        "family_name": "Imported",
        "date_of_birth": "2014-05-06",
        "decision_to_assess": "assess",
        "decision_to_assess_on": (day0 + weeks(7)).isoformat(),
        "advice": f"health {(day0 + weeks(7)).isoformat()} {(day0 + weeks(11)).isoformat()}"
        f"|education {(day0 + weeks(7)).isoformat()}",
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "caseload.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerow(row)
        report = await bulk_import.import_cases(
            path, client=s.env.client, sessions=s.sessions, task_queue=s.task_queue, clock=s.clock
        )
    assert (report.imported, report.bad) == (1, []), report
    today = await s.today()
    await _post(s, ref, "decision-to-issue", {"decision": "issue", "decided_on": today.isoformat()})
    await _post(s, ref, "draft-plan", {"served_on": today.isoformat()})
    await s.sleep(timedelta(days=16))
    await _post(s, ref, "final-plan", {"issued_on": (await s.today()).isoformat()})
    await s.sleep(timedelta(days=30))
    return ref


async def advice_chasing(s: Stack) -> dict[tuple[str, str], str]:
    """An assessment whose health advice is chased through reminders, the due date, the
    overdue notice and two escalations, then arrives: the assessment (on the
    ``advice-chasing-workflows`` patch path) and its ``AdviceRequest`` chaser."""
    day0 = await s.today()
    ref = str((await create_case(s, day0))["case_ref"])
    decided = {"decision": "assess", "decided_on": day0.isoformat()}
    await _post(s, ref, "decision-to-assess", decided)
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": day0.isoformat(), "team": "community-paediatrics"},
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]
    await s.sleep(weeks(8) + timedelta(days=2))  # past two weekly escalations
    received = {"received_on": (await s.today()).isoformat()}
    response = await s.post(f"/advice-requests/{advice_id}/received", received)
    assert response.status_code == 200, response.text
    await s.sleep(timedelta(days=1))
    return {
        ("assessment", "advice_chasing"): workflow_id(ref),
        ("advice", "chased_and_escalated"): advice_workflow_id(advice_id),
    }


async def digest(s: Stack) -> dict[tuple[str, str], str]:
    """Two social care requests on one day: their notices go to one ``Postbox`` digest."""
    today = await s.today()
    for _ in range(2):
        ref = str((await create_case(s, today))["case_ref"])
        decided = {"decision": "assess", "decided_on": today.isoformat()}
        await _post(s, ref, "decision-to-assess", decided)
        body = {"agency": "social_care", "requested_on": today.isoformat()}
        r = await s.post(f"/assessments/{ref}/advice-requests", body)
        assert r.status_code == 201, r.text
    await s.sleep(timedelta(minutes=15))
    batch = f"childrens-disability.r0.{today.isoformat()}"
    return {("postbox", "digest"): postbox_id(batch)}


PATHS: list[Path_] = [
    _case("on_time")(on_time),
    _case("breached_by_timer")(breached_by_timer),
    _case("exception_and_refusal")(exception_and_refusal),
    _case("no_plan")(no_plan),
    _case("withdrawn")(withdrawn),
    _case("readings_2026")(readings_2026),  # recorded with the patches of rules.md section 8
    # Started by a plain start, the opening evaluated in __init__ (opening-evaluated-at-start).
    _case("plain_start_backdated")(readings_2026),
    _case("representations_run_out")(representations_run_out),
    advice_chasing,
    digest,
    # Recorded with every patch of 2026-11-30 (law read closer, reply after projection, ...).
    _case("on_time_2026_11_30")(on_time),
    _case("corrected_and_reopened")(corrected_and_reopened),
    corrected_with_chaser,
    # The same chasing after the notices-on-working-days patch.
    lambda s: _renamed(advice_chasing(s), "_working_days"),
    # An imported case: its history in the start's input (bulk-history-at-start).
    _case("imported_then_carried_on")(imported_then_carried_on),
    # The projection as a local activity, before the chasers start
    # (projection-in-the-workflow-task).
    _case("on_time_projected_in_task")(on_time),
    lambda s: _renamed(advice_chasing(s), "_projected_in_task"),
]


async def _renamed(
    played: Awaitable[dict[tuple[str, str], str]], suffix: str
) -> dict[tuple[str, str], str]:
    return {(kind, name + suffix): wf_id for (kind, name), wf_id in (await played).items()}


async def _save(client: Any, kind: str, name: str, wf_id: str) -> None:
    target = HISTORIES / kind / f"{name}.json"
    if target.exists():
        print(f"kept {kind}/{name} (never overwritten)")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    history = await client.get_workflow_handle(wf_id).fetch_history()
    target.write_text(history.to_json())
    print(f"recorded {kind}/{name}")


async def record(sessions: async_sessionmaker[AsyncSession], tokens: dict[str, str]) -> None:
    env = await start_time_skipping()
    mail = MailServer()  # a real SMTP server, so notices are sent first time, as in a council
    mail.start()
    try:
        async for stack in open_stack(env, sessions, tokens, smtp_port=mail.port):
            for path in PATHS:
                for (kind, name), wf_id in (await path(stack)).items():
                    await _save(env.client, kind, name, wf_id)
    finally:
        mail.stop()
        await env.shutdown()


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/ehc.db"
        await upgrade(url)
        engine = make_engine(url)
        sessions = sessionmaker(engine)
        async with sessions() as session:
            for team in load_directory_file(TEAMS_FILE).teams:
                await advice_requests.save_team(session, team)
            await session.commit()
        await record(sessions, await make_tokens(sessions))
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
