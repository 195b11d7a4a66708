"""`ehc import cases`: an existing caseload, each case started with its true history."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError

from api import temporal_gateway
from ehc.importer import COLUMNS, ImportRow, parse_row
from ehc.store import repository
from ehc_cli import bulk_import
from tests.api.scenarios import event_kinds, weeks
from tests.conftest import Stack, unique_ref
from workflows.assessment import AssessmentWorkflow


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in COLUMNS})
    return path


def case_row(day0: date, **events: str) -> dict[str, str]:
    return {
        "case_ref": unique_ref("IMP"),
        "received_on": day0.isoformat(),
        "requested_by": "parent",
        "given_name": "Ada",
        "family_name": "Imported",
        "date_of_birth": "2014-05-06",
        **events,
    }


def full_history(day0: date) -> dict[str, str]:
    return case_row(
        day0,
        decision_to_assess="assess",
        decision_to_assess_on=(day0 + weeks(5)).isoformat(),
        advice=f"health {(day0 + weeks(5)).isoformat()} {(day0 + weeks(9)).isoformat()}"
        f"|education {(day0 + weeks(6)).isoformat()}",
        decision_to_issue="issue",
        decision_to_issue_on=(day0 + weeks(12)).isoformat(),
        draft_plan_on=(day0 + weeks(14)).isoformat(),
    )


async def run_import(s: Stack, path: Path, **kwargs: Any) -> bulk_import.ImportReport:
    await s.today()
    report = await bulk_import.import_cases(
        path,
        client=s.env.client,
        sessions=s.sessions,
        task_queue=s.task_queue,
        clock=s.clock,
        **kwargs,
    )
    s.case_refs.extend(line.strip() for line in bulk_import.journal_path(path).read_text().split())
    return report


async def test_import_starts_each_case_with_its_history_and_lists_bad_rows(
    ts_stack: Stack, tmp_path: Path
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(16)
    good = full_history(day0)
    fresh = case_row(day0 + weeks(10))
    bad = [
        case_row(day0, received_on="2025-13-01"),
        case_row(day0, final_plan_on=(day0 + weeks(15)).isoformat()),  # no decisions before it
        case_row(day0 + weeks(40)),  # received in the future
        {**case_row(day0), "given_name": ""},
        {**case_row(day0), "case_ref": good["case_ref"]},  # the same ref twice
        case_row(day0, decision_to_assess_on=(day0 - weeks(1)).isoformat()),
    ]
    path = write_csv(tmp_path / "caseload.csv", [good, fresh, *bad])
    progress = io.StringIO()

    report = await run_import(s, path, progress=progress)

    assert report.imported == 2
    reasons = {line: reason for line, _, reason in report.bad}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9]
    assert "not a date" in reasons[4]
    assert "final plan" in reasons[5]
    assert "future" in reasons[6]
    assert "given_name" in reasons[7]
    assert "twice" in reasons[8]
    assert "decision to assess" in reasons[9]
    assert "2/2 cases" in progress.getvalue()
    for row in bad[:4] + bad[5:]:  # nothing of a bad row reached the workflows or the store
        assert (await s.get(f"/assessments/{row['case_ref']}")).status_code == 404

    view = (await s.get(f"/assessments/{good['case_ref']}")).json()
    assert view["stage"] == "draft_issued"
    assert view["child"]["family_name"] == "Imported"
    kinds = event_kinds(view)
    for kind in ("request_received", "decision_to_assess", "decision_to_issue"):
        assert kinds.count(kind) == 1, kinds
    assert kinds.count("advice_requested") == 2
    assert kinds.count("advice_received") == 1
    assert (await s.get(f"/assessments/{fresh['case_ref']}")).json()["stage"] == (
        "awaiting_decision_to_assess"
    )


async def test_an_interrupted_import_resumes_without_doubling_anything(
    ts_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(16)
    rows = [full_history(day0), full_history(day0 + weeks(1)), case_row(day0 + weeks(2))]
    path = write_csv(tmp_path / "caseload.csv", rows)
    s.case_refs.extend(row["case_ref"] for row in rows)
    real_start = temporal_gateway.start_assessment
    starts = {"n": 0}

    async def power_cut_before_2nd_start(*args: Any, **kwargs: Any) -> None:
        starts["n"] += 1
        if starts["n"] == 2:  # the second case: its child and row stored, no workflow yet
            raise RuntimeError("power cut")
        await real_start(*args, **kwargs)

    monkeypatch.setattr(temporal_gateway, "start_assessment", power_cut_before_2nd_start)
    with pytest.raises(RuntimeError, match="power cut"):
        await run_import(s, path, concurrency=1)
    assert bulk_import.journal_path(path).read_text().split() == [rows[0]["case_ref"]]

    async def power_cut_after_start(*args: Any, **kwargs: Any) -> None:
        await real_start(*args, **kwargs)  # the workflow runs, the journal never hears of it
        raise RuntimeError("power cut")

    monkeypatch.setattr(temporal_gateway, "start_assessment", power_cut_after_start)
    with pytest.raises(RuntimeError, match="power cut"):
        await run_import(s, path, concurrency=1)
    assert bulk_import.journal_path(path).read_text().split() == [rows[0]["case_ref"]]

    monkeypatch.setattr(temporal_gateway, "start_assessment", real_start)
    report = await run_import(s, path, concurrency=1)

    assert (report.imported, report.skipped, report.bad) == (2, 1, [])
    for row in rows[:2]:
        kinds = event_kinds((await s.get(f"/assessments/{row['case_ref']}")).json())
        assert kinds.count("request_received") == 1, kinds
        assert kinds.count("decision_to_assess") == 1, kinds
        assert kinds.count("advice_requested") == 2, kinds
        assert kinds.count("advice_received") == 1, kinds
        assert kinds.count("draft_plan_served") == 1, kinds
    # The case begun before the first cut was started as it was recorded then: the store's
    # opening and the workflow's agree to the microsecond.
    stored = (await s.get(f"/assessments/{rows[1]['case_ref']}")).json()["events"][0]
    live = (await temporal_gateway.view(s.env.client, rows[1]["case_ref"])).events[0]
    assert stored["entered_at"] == live.model_dump(mode="json")["entered_at"]
    # A third run finds everything done.
    again = await run_import(s, path, concurrency=1)
    assert (again.imported, again.skipped) == (0, 3)


async def test_a_bad_event_in_the_middle_refuses_the_row_whole(
    ts_stack: Stack, tmp_path: Path
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(16)
    # Good events either side of a draft "served" before the decision to issue.
    bad = {**full_history(day0), "draft_plan_on": (day0 + weeks(11)).isoformat()}
    good = full_history(day0)
    path = write_csv(tmp_path / "caseload.csv", [bad, good])

    report = await run_import(s, path)

    assert report.imported == 1
    [(line, ref, reason)] = report.bad
    assert (line, ref) == (2, bad["case_ref"])
    assert "draft plan" in reason
    assert "before the decision to issue" in reason
    assert (await s.get(f"/assessments/{bad['case_ref']}")).status_code == 404
    async with s.sessions() as session:
        assert await repository.get_child(session, case_ref=bad["case_ref"]) is None
    with pytest.raises(RPCError):
        await temporal_gateway.handle(s.env.client, bad["case_ref"]).describe()
    assert bulk_import.journal_path(path).read_text().split() == [good["case_ref"]]


def parsed(raw: dict[str, str], today: date, ref: str) -> ImportRow:
    return parse_row({**raw, "case_ref": ref}, 2, today)


async def import_event_by_event(s: Stack, row: ImportRow) -> None:
    """The per-event path: the case opened, then one update per event (update ids as the
    bulk path records them)."""
    ref = row.case.case_ref
    await s.today()
    now = s.clock()
    async with s.sessions() as session:
        await repository.save_child(session, case_ref=ref, child=row.child, fingerprint="x")
        case = row.case.model_copy(update={"opened_at": now})
        opening = temporal_gateway.opening_view(case, now)
        await repository.record_opened_case(
            session, view=opening, start=case.model_dump(mode="json"), at=now
        )
        await temporal_gateway.start_recorded(
            s.env.client, session, case, s.task_queue, opening=opening
        )
    s.case_refs.append(ref)
    for n, step in enumerate(row.steps, start=1):
        method = getattr(AssessmentWorkflow, step.update)
        await temporal_gateway.update(
            s.env.client, ref, method, step.command, update_key=f"import:{ref}:{n}"
        )


def comparable(view: dict[str, Any], ref: str) -> Any:
    """A case's view with its reference and the moments of entry taken out."""
    drop = {"entered_at", "case_ref", "projection", "projected_at", "child", "notes"}

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value.replace(ref, "REF") if isinstance(value, str) else value

    return strip(view)


@pytest.mark.parametrize(
    "events",
    [
        "late_decision_advice_draft_final",
        "not_issue",
        "withdrawn_with_advice_open",
    ],
)
async def test_the_whole_history_in_one_go_gives_the_per_event_view(
    ts_stack: Stack, tmp_path: Path, events: str
) -> None:
    """The key proof: one start carrying the history, one projection, and the case reads
    exactly as when its events arrive one update at a time."""
    s = ts_stack
    today = await s.today()
    day0 = today - weeks(30)
    raw = {
        "late_decision_advice_draft_final": {
            **full_history(day0),
            "decision_to_assess_on": (day0 + weeks(8)).isoformat(),  # late: a breach first
            "final_plan_on": (day0 + weeks(22)).isoformat(),
        },
        "not_issue": case_row(
            day0,
            decision_to_assess="assess",
            decision_to_assess_on=(day0 + weeks(6)).isoformat(),
            advice=f"health {(day0 + weeks(6)).isoformat()}",
            decision_to_issue="not_issue",
            decision_to_issue_on=(day0 + weeks(17)).isoformat(),
        ),
        "withdrawn_with_advice_open": case_row(
            day0,
            decision_to_assess="assess",
            decision_to_assess_on=(day0 + weeks(5)).isoformat(),
            advice=f"education {(day0 + weeks(5)).isoformat()}",
            withdrawn_on=(day0 + weeks(9)).isoformat(),
        ),
    }[events]
    bulk_ref, each_ref = unique_ref("IMPB"), unique_ref("IMPE")
    path = write_csv(tmp_path / "caseload.csv", [{**raw, "case_ref": bulk_ref}])

    report = await run_import(s, path)
    await import_event_by_event(s, parsed(raw, today, each_ref))

    assert (report.imported, report.bad) == (1, [])
    history = await temporal_gateway.handle(s.env.client, bulk_ref).fetch_history()
    kinds = [e.WhichOneof("attributes") or "" for e in history.events]
    assert not any("update" in k for k in kinds), "no update: the history came with the start"
    # The projection runs as a local activity: one marker in the history per projection.
    projections = [
        e
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and "data" in e.marker_recorded_event_attributes.details
        and json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)[
            "activity_type"
        ]
        == "project_case"
    ]
    assert len(projections) == 1
    bulk = (await s.get(f"/assessments/{bulk_ref}")).json()
    each = (await s.get(f"/assessments/{each_ref}")).json()
    assert len(bulk["events"]) >= 1 + len(parsed(raw, today, bulk_ref).steps)
    assert comparable(bulk, bulk_ref) == comparable(each, each_ref)
    bulk_live = await temporal_gateway.view(s.env.client, bulk_ref)
    each_live = await temporal_gateway.view(s.env.client, each_ref)
    assert comparable(bulk_live.model_dump(mode="json"), bulk_ref) == comparable(
        each_live.model_dump(mode="json"), each_ref
    )


async def test_with_no_worker_the_import_finishes_and_says_what_is_not_in_the_store(
    ts_stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(16)
    rows = [full_history(day0), case_row(day0)]
    path = write_csv(tmp_path / "caseload.csv", rows)
    s.case_refs.extend(row["case_ref"] for row in rows)
    monkeypatch.setattr(bulk_import, "PROJECTION_WAIT_SECONDS", 1.0)
    await s.today()

    report = await bulk_import.import_cases(
        path, client=s.env.client, sessions=s.sessions, task_queue="no-worker", clock=s.clock
    )

    # The case with events waits for a worker; the one with none reads as opened already.
    assert (report.imported, report.not_projected) == (2, 1)
    out = io.StringIO()
    bulk_import.print_report(report, out)
    assert "1 imported cases were not yet in the store" in out.getvalue()
    assert "ehc worker" in out.getvalue()
    assert sorted(bulk_import.journal_path(path).read_text().split()) == sorted(
        row["case_ref"] for row in rows
    )
