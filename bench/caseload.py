"""Realistic caseloads for the bench, from the synthetic generator (``ehc.synthetic``)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from ehc.importer import COLUMNS
from ehc.synthetic.generator import CaseScript, generate_cohort

DFE_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dfe-ehcp-2025"
LA = "Kent"
YEAR = 2024


def scripts(
    cases: int, *, seed: int = 14, prefix: str = "S", today: date | None = None
) -> list[CaseScript]:
    """About ``cases`` cases of one LA's years (cohorts of successive seeds, distinct refs)."""
    out: list[CaseScript] = []
    batch = 0
    while len(out) < cases:
        cohort = generate_cohort(
            LA,
            YEAR,
            seed=seed + batch,
            cases=min(cases - len(out), 20_000),
            ref_prefix=f"{prefix}{batch}",
            data_dir=DFE_DATA if DFE_DATA.exists() else None,
            today=today,
        )
        out.extend(cohort.scripts)
        batch += 1
    return out[:cases]


def import_row(script: CaseScript) -> dict[str, str]:
    """The case as a row of `ehc import cases` (an exception, if any, is left out)."""
    row = {
        "case_ref": script.case_ref,
        "received_on": script.received_on.isoformat(),
        "requested_by": "parent",
        "given_name": str(script.child["given_name"]),
        "family_name": str(script.child["family_name"]),
        "date_of_birth": str(script.child["date_of_birth"]),
    }
    if script.assess:
        row["decision_to_assess_on"] = script.assess[0].isoformat()
        row["decision_to_assess"] = script.assess[1]
    row["advice"] = "|".join(
        " ".join(
            [a.agency, a.requested_on.isoformat()]
            + ([a.received_on.isoformat()] if a.received_on else [])
        )
        for a in script.advice
    )
    if script.issue:
        row["decision_to_issue_on"] = script.issue[0].isoformat()
        row["decision_to_issue"] = script.issue[1]
    for name, value in (
        ("draft_plan_on", script.draft_on),
        ("final_plan_on", script.final_on),
        ("withdrawn_on", script.withdrawn_on),
    ):
        if value:
            row[name] = value.isoformat()
    return row


def write_import_csv(path: Path, cases: list[CaseScript]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for script in cases:
            writer.writerow({k: import_row(script).get(k, "") for k in COLUMNS})
    return path
