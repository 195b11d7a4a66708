"""`ehc import cases`: an existing caseload, each case started with its true history."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api import temporal_gateway
from ehc.importer import COLUMNS
from ehc_cli import bulk_import
from tests.api.scenarios import event_kinds, weeks
from tests.conftest import Stack, unique_ref


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
    real_update = temporal_gateway.update
    calls = {"n": 0}

    async def power_cut_on_7th_event(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 7:  # the second case, part way through its history
            raise RuntimeError("power cut")
        return await real_update(*args, **kwargs)

    monkeypatch.setattr(temporal_gateway, "update", power_cut_on_7th_event)
    with pytest.raises(RuntimeError, match="power cut"):
        await run_import(s, path, concurrency=1)
    assert bulk_import.journal_path(path).read_text().split() == [rows[0]["case_ref"]]

    monkeypatch.setattr(temporal_gateway, "update", real_update)
    s.case_refs.append(rows[1]["case_ref"])
    report = await run_import(s, path, concurrency=1)

    assert (report.imported, report.skipped, report.bad) == (2, 1, [])
    for row in rows[:2]:
        kinds = event_kinds((await s.get(f"/assessments/{row['case_ref']}")).json())
        assert kinds.count("decision_to_assess") == 1, kinds
        assert kinds.count("advice_requested") == 2, kinds
        assert kinds.count("advice_received") == 1, kinds
        assert kinds.count("draft_plan_served") == 1, kinds
    # A third run finds everything done.
    again = await run_import(s, path, concurrency=1)
    assert (again.imported, again.skipped) == (0, 3)
