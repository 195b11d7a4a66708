"""Real figures to calibrate synthetic caseloads on: one LA's row of DfE's EHC plan files.

Reads ``requests.csv``, ``assessments.csv`` and ``timeliness_20_week.csv`` of DfE's
"Education, health and care plans" release (reporting year 2025, Open Government Licence
v3.0). The files live outside the package, in ``shared/data/dfe-ehcp-2025`` beside the
repository (or wherever ``data_dir`` points).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "dfe-ehcp-2025"

_BREAKDOWN = {
    "requests.csv": "All requests for EHC needs assessments",
    "assessments.csv": "All EHC needs assessments",
    "timeliness_20_week.csv": "All EHC plans issued",
}


class CalibrationError(ValueError):
    """The DfE files do not hold what the generator needs for that LA and year."""


@dataclass(frozen=True)
class Calibration:
    """One LA's published figures for one calendar year."""

    la_name: str
    old_la_code: str
    new_la_code: str
    year: int
    # requests.csv
    requests_received: int
    requests_rya: int
    decided_to_assess: int
    decided_not_to_assess: int
    decision_not_made: int
    withdrawn: int
    outcome_six_weeks: int
    outcome_over_6_weeks: int
    # assessments.csv
    assess_issued: int
    assess_not_issued: int
    assess_withdrawn: int
    assess_not_made: int
    not_issue_within_time: int
    not_issue_over_time: int
    # timeliness_20_week.csv
    plans_den: int
    plans_den_ex: int
    plans_within_20_weeks: int
    plans_within_20_weeks_ex: int
    plans_gt20weeks_ltyear: int
    plans_gt20weeks_ltyear_ex: int
    plans_gt_1_year: int
    plans_gt_1_year_ex: int


def _row(path: Path, la: str, year: int) -> dict[str, str]:
    if not path.exists():
        raise CalibrationError(f"{path} does not exist")
    wanted = la.strip().lower()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if (
                row["geographic_level"] == "Local authority"
                and row["time_period"] == str(year)
                and row["breakdown"] == _BREAKDOWN[path.name]
                and wanted in (row["la_name"].strip().lower(), row["old_la_code"])
            ):
                return row
    raise CalibrationError(f"{path.name} has no {year} row for the LA {la!r}")


def _count(row: dict[str, str], column: str, *, required: bool = False) -> int:
    """A published count; DfE's "x" (unavailable) and "z" (not applicable) read as 0
    unless the figure is ``required``."""
    text = row.get(column, "").strip()
    if text.isdigit():
        return int(text)
    if required:
        raise CalibrationError(f"{column} is {text!r} for {row['la_name']}; it is needed")
    return 0


def load_calibration(la: str, year: int, data_dir: Path | None = None) -> Calibration:
    """The figures for ``la`` (its name, as DfE spells it, or its 3-digit code)."""
    folder = data_dir or DEFAULT_DATA_DIR
    req = _row(folder / "requests.csv", la, year)
    ass = _row(folder / "assessments.csv", la, year)
    tim = _row(folder / "timeliness_20_week.csv", la, year)
    return Calibration(
        la_name=req["la_name"],
        old_la_code=req["old_la_code"],
        new_la_code=req["new_la_code"],
        year=year,
        requests_received=_count(req, "requests_received_in_year", required=True),
        requests_rya=_count(req, "requests_rya"),
        decided_to_assess=_count(req, "requests_decided_to_assess", required=True),
        decided_not_to_assess=_count(req, "requests_decided_not_to_assess", required=True),
        decision_not_made=_count(req, "requests_decision_not_made"),
        withdrawn=_count(req, "requests_withdrawn"),
        outcome_six_weeks=_count(req, "request_outcome_six_weeks"),
        outcome_over_6_weeks=_count(req, "request_outcome_over_6_weeks"),
        assess_issued=_count(ass, "assess_issued", required=True),
        assess_not_issued=_count(ass, "assess_not_issued", required=True),
        assess_withdrawn=_count(ass, "assess_withdrawn"),
        assess_not_made=_count(ass, "assess_not_made"),
        not_issue_within_time=_count(ass, "outcome_decision_within_time"),
        not_issue_over_time=_count(ass, "outcome_decision_over_time"),
        plans_den=_count(tim, "plans_issued_den", required=True),
        plans_den_ex=_count(tim, "plans_issued_den_ex", required=True),
        plans_within_20_weeks=_count(tim, "plans_issued_within_20_weeks", required=True),
        plans_within_20_weeks_ex=_count(tim, "plans_issued_20_weeks_ex", required=True),
        plans_gt20weeks_ltyear=_count(tim, "plans_issued_gt20weeks_ltYear"),
        plans_gt20weeks_ltyear_ex=_count(tim, "plans_issued_gt20weeks_ltYear_ex"),
        plans_gt_1_year=_count(tim, "plans_issued_gt_1_year"),
        plans_gt_1_year_ex=_count(tim, "plans_issued_gt_1_year_ex"),
    )
