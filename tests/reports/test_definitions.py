"""DfE's definitions, checked without a stack: the report's columns line up with the
published files, its percentages round as DfE's do, and each measure's boundary day."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from ehc.measures import RecordedException
from ehc.reports import dfe
from ehc.reports.outcomes import outcome_as_at
from ehc.reports.timeliness import build_report, period_label, to_csv
from ehc.store.report_queries import AdviceRecord, CaseRecord
from tests.reports.conftest import DFE_DATA, require_shared
from tests.reports.records import case_record

DAY0 = date(2024, 3, 4)


def _header(name: str) -> list[str]:
    path = require_shared(DFE_DATA) / name
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def _case(
    ref: str,
    day0: date = DAY0,
    *events: tuple[str, int, dict[str, str]],
    exceptions: tuple[str, ...] = (),
) -> CaseRecord:
    """A case with events ``(kind, days after Day 0, detail)``."""
    return case_record(ref, day0, *events, exceptions=exceptions)


def _plan(ref: str, days: int, *, exception: bool = False, day0: date | None = None) -> CaseRecord:
    """A plan issued ``days`` after Day 0 (by default on 1 December 2024)."""
    day0 = day0 or date(2024, 12, 1) - timedelta(days=days)
    return _case(
        ref,
        day0,
        ("decision_to_assess", 20, {"decision": "assess"}),
        ("decision_to_issue", days - 20, {"decision": "issue"}),
        ("draft_plan_served", days - 16, {}),
        ("final_plan_issued", days, {}),
        exceptions=(f"{ref}-exc1",) if exception else (),
    )


def _report(cases: list[CaseRecord], advice: list[AdviceRecord] | None = None, year: int = 2024):
    return build_report(
        cases, {}, advice or [], start=date(year, 1, 1), end=date(year, 12, 31), la_code="392"
    )


# --- the published files' shape ---------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "published"),
    [
        ("timeliness_20_week", "timeliness_20_week.csv"),
        ("requests", "requests.csv"),
        ("assessments", "assessments.csv"),
    ],
)
def test_report_columns_line_up_with_the_published_file(section: str, published: str) -> None:
    """One LA, one calendar year: the report's CSV header is the published header, in the
    same order; only the documented extras follow it."""
    header = _header(published)
    report = _report([_plan("A", 100)])
    rows = list(csv.reader(to_csv(report, section).splitlines()))  # type: ignore[arg-type]
    assert len(rows) == 2
    got = rows[0]
    assert got[: len(header)] == header
    assert tuple(got[len(header) :]) == (
        dfe.TIMELINESS_EXTRA_COLUMNS if section == "timeliness_20_week" else ()
    )
    line = dict(zip(got, rows[1], strict=True))
    assert line["time_period"] == "2024"
    assert line["time_identifier"] == "Calendar year"
    assert line["geographic_level"] == "Local authority"
    assert (line["old_la_code"], line["new_la_code"], line["la_name"]) == (
        "392",
        "E08000022",
        "North Tyneside",
    )
    assert line["breakdown"] == dfe.BREAKDOWN[section]


def test_the_geography_matches_the_published_row_for_that_la_and_year() -> None:
    path = require_shared(DFE_DATA) / "timeliness_20_week.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        published = next(
            r
            for r in csv.DictReader(handle)
            if r["time_period"] == "2024"
            and r["old_la_code"] == "392"
            and r["breakdown"] == "All EHC plans issued"
        )
    rows = list(csv.reader(to_csv(_report([])).splitlines()))
    ours = dict(zip(rows[0], rows[1], strict=True))
    for column in dfe.GEOGRAPHY_COLUMNS:
        assert ours[column] == published[column], column


# --- rounding as DfE rounds -----------------------------------------------------------------

_PERCENTAGES = {
    "timeliness_20_week.csv": [
        (pc, part, "plans_issued_den_ex" if part.endswith("_ex") else "plans_issued_den")
        for pc, part in [
            ("pc_plans_issued_within_20_weeks", "plans_issued_within_20_weeks"),
            ("PC_plans_issued_20_weeks_ex", "plans_issued_20_weeks_ex"),
            ("pc_plans_issued_gt20weeks_ltYear", "plans_issued_gt20weeks_ltYear"),
            ("PC_plans_issued_gt20weeks_ltYear_ex", "plans_issued_gt20weeks_ltYear_ex"),
            ("pc_plans_issued_gt_1_year", "plans_issued_gt_1_year"),
            ("PC_plans_issued_gt_1_year_ex", "plans_issued_gt_1_year_ex"),
        ]
    ],
    "requests.csv": [
        (pc, part, "requests_received_in_year")
        for pc, part in [
            ("request_assess_pc", "requests_decided_to_assess"),
            ("request_not_assess_pc", "requests_decided_not_to_assess"),
            ("request_outstanding_pc", "requests_decision_not_made"),
            ("request_withdrawn_pc", "requests_withdrawn"),
        ]
    ],
    "assessments.csv": [
        (pc, part, "assess_in_year")
        for pc, part in [
            ("assess_issued_pc", "assess_issued"),
            ("assess_not_issued_pc", "assess_not_issued"),
            ("assess_not_made_pc", "assess_not_made"),
            ("assess_withdrawn_pc", "assess_withdrawn"),
        ]
    ],
}


@pytest.mark.parametrize("published", sorted(_PERCENTAGES))
def test_percentages_round_exactly_as_every_published_row(published: str) -> None:
    """Every published percentage, every row and breakdown, recomputed from its counts."""
    path = require_shared(DFE_DATA) / published
    checked = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            for pc, part, whole in _PERCENTAGES[published]:
                if not (row[part].isdigit() and row[whole].isdigit()) or row[pc] in "xz":
                    continue
                if int(row[whole]) == 0:
                    continue
                expected = float(row[pc])
                assert dfe.percent(int(row[part]), int(row[whole])) == expected, (pc, row)
                checked += 1
    assert checked > 40_000


def test_no_plan_timeliness_is_a_percentage_of_the_no_plan_decisions() -> None:
    path = require_shared(DFE_DATA) / "assessments.csv"
    checked = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            within, over = row["outcome_decision_within_time"], row["outcome_decision_over_time"]
            if not (within.isdigit() and over.isdigit()) or int(within) + int(over) == 0:
                continue
            whole = int(within) + int(over)
            assert dfe.percent(int(within), whole) == float(
                row["outcome_decision_within_time_pc"]
            ), row
            assert dfe.percent(int(over), whole) == float(row["outcome_decision_over_time_pc"])
            checked += 1
    assert checked > 5000


def test_percent_of_nothing_is_not_applicable() -> None:
    assert dfe.percent(0, 0) is None
    assert dfe.percent(1, 8) == 12.5
    assert dfe.percent(1, 16) == 6.3  # 6.25 exactly: halves go up, as DfE's do
    assert dfe.percent(153, 240) == 63.7  # 63.749999... in binary, as DfE published it


# --- boundaries ------------------------------------------------------------------------------


def test_plan_bands_and_exceptions_on_their_boundary_days() -> None:
    cases = [
        _plan("W140", 140),
        _plan("M141", 141),
        _plan("M364", 364),
        _plan("Y365", 365),
        _plan("X100", 100, exception=True),
    ]
    t = _report(cases).timeliness_20_week
    assert (t.plans_issued_den, t.plans_issued_den_ex) == (5, 4)
    assert (t.plans_issued_within_20_weeks, t.plans_issued_20_weeks_ex) == (2, 1)
    assert (t.plans_issued_gt20weeks_ltYear, t.plans_issued_gt20weeks_ltYear_ex) == (2, 2)
    assert (t.plans_issued_gt_1_year, t.plans_issued_gt_1_year_ex) == (1, 1)
    assert t.PC_plans_issued_20_weeks_ex == 25.0
    assert t.avg_weeks_issue_plan == round((140 + 141 + 364 + 365 + 100) / 35, 1)


def test_an_exception_case_is_one_the_law_accepts_dated_by_the_periods_end() -> None:
    """SEN2 Week20 and the ``_ex`` columns read exceptions as ``ehc.measures`` does: one the
    law no longer accepts for the period, or one dated after the period's end, leaves the
    plan in "excluding exceptions"."""
    refused = replace(
        _plan("REFUSED", 100),
        final_plan_exceptions=(
            RecordedException("REFUSED-e", "personal_circumstances", DAY0, excuses=False),
        ),
    )
    later = replace(
        _plan("LATER", 100),
        final_plan_exceptions=(
            RecordedException("LATER-e", "personal_circumstances", date(2025, 1, 2), True),
        ),
    )
    t = _report([refused, later, _plan("X100", 100, exception=True)]).timeliness_20_week
    assert (t.plans_issued_den, t.plans_issued_den_ex) == (3, 2)
    assert outcome_as_at(later, date(2025, 1, 2)).week20_exception
    assert not outcome_as_at(later, date(2025, 1, 1)).week20_exception


def test_plans_are_counted_in_the_year_they_are_issued() -> None:
    late = _plan("LATE", 300, day0=date(2023, 6, 1))  # issued 2024-03-27
    early = _plan("NEXT", 100, day0=date(2024, 11, 1))  # issued 2025-02-09
    t = _report([late, early]).timeliness_20_week
    assert t.plans_issued_den == 1


def test_the_six_week_decision_boundary_and_as_at_the_periods_end() -> None:
    cases = [
        _case("D42", DAY0, ("decision_to_assess", 42, {"decision": "assess"})),
        _case("D43", DAY0, ("decision_to_assess", 43, {"decision": "not_assess"})),
        _case("W", DAY0, ("withdrawn", 10, {})),
        _case("OPEN", DAY0),
        # received in December, decided in January: undecided as at 31 December
        _case("JAN", date(2024, 12, 20), ("decision_to_assess", 20, {"decision": "assess"})),
    ]
    q = _report(cases).requests
    assert q.requests_received_in_year == 5
    assert (q.requests_decided_to_assess, q.requests_decided_not_to_assess) == (1, 1)
    assert (q.requests_withdrawn, q.requests_decision_not_made) == (1, 2)
    assert (q.request_outcome_six_weeks, q.request_outcome_over_6_weeks) == (1, 1)
    assert q.request_outcome_six_weeks_pc == 50.0
    assert q.request_outstanding_pc == 40.0
    assert q.mediation_related_request is None


def test_no_plan_decisions_within_16_weeks() -> None:
    def no_plan(ref: str, days: int) -> CaseRecord:
        return _case(
            ref,
            DAY0,
            ("decision_to_assess", 30, {"decision": "assess"}),
            ("decision_to_issue", days, {"decision": "not_issue"}),
        )

    cases = [
        no_plan("N112", 112),
        no_plan("N113", 113),
        _case(
            "WD", DAY0, ("decision_to_assess", 30, {"decision": "assess"}), ("withdrawn", 60, {})
        ),
        _case("GOING", DAY0, ("decision_to_assess", 30, {"decision": "assess"})),
        _plan("P", 120),
    ]
    a = _report(cases).assessments
    assert (a.assess_in_year, a.assess_issued, a.assess_not_issued) == (5, 1, 2)
    assert (a.assess_withdrawn, a.assess_not_made) == (1, 1)
    assert (a.outcome_decision_within_time, a.outcome_decision_over_time) == (1, 1)


def test_an_outcome_dated_after_the_period_is_ignored() -> None:
    case = _case(
        "C",
        date(2024, 11, 1),
        ("decision_to_assess", 20, {"decision": "assess"}),
        ("withdrawn", 70, {}),
    )
    at_end = outcome_as_at(case, date(2024, 12, 31))
    assert at_end.request_outcome == "Y"
    assert at_end.assessment_outcome == "A"
    assert outcome_as_at(case, date(2025, 12, 31)).assessment_outcome == "W"


def test_advice_within_six_weeks_by_agency_and_team() -> None:
    def advice(
        i: int, agency: str, team: str | None, received_after: int | None, status: str = "met"
    ) -> AdviceRecord:
        sent = date(2024, 5, 1)
        return AdviceRecord(
            f"A-adv{i}",
            "A",
            agency,
            team,
            sent,
            sent,
            sent + timedelta(42),
            sent + timedelta(received_after) if received_after else None,
            status,
        )

    rows = _report(
        [],
        [
            advice(1, "health", "chc", 42),
            advice(2, "health", "chc", 43),
            advice(3, "health", None, None, "breached"),
            advice(4, "social_care", None, None, "not_applicable"),
        ],
    ).advice
    by = {(r.level, r.agency, r.team): r for r in rows}
    chc = by[("team", "health", "chc")]
    assert (chc.advice_received, chc.advice_received_within_6_weeks) == (2, 1)
    assert chc.pc_advice_received_within_6_weeks == 50.0
    assert by[("agency", "health", None)].advice_overdue_at_end == 1
    assert by[("all", "all", None)].advice_requested == 4
    assert by[("all", "all", None)].advice_overdue_at_end == 1  # the lapsed one is not due


def test_advice_as_csv() -> None:
    sent = date(2024, 5, 1)
    advice = [
        AdviceRecord(
            "A-adv1",
            "A",
            "health",
            "camhs",
            sent,
            sent,
            sent + timedelta(42),
            sent + timedelta(10),
            "met",
        ),
        AdviceRecord(
            "B-adv1", "B", "other", None, sent, sent, sent + timedelta(42), None, "breached"
        ),
    ]
    rows = list(csv.DictReader(to_csv(_report([], advice), "advice").splitlines()))
    assert [(r["level"], r["agency"], r["team"]) for r in rows] == [
        ("team", "health", "camhs"),
        ("agency", "health", ""),
        ("team", "other", ""),
        ("agency", "other", ""),
        ("all", "all", ""),
    ]
    assert rows[0]["pc_advice_received_within_6_weeks"] == "100.0"
    assert rows[2]["pc_advice_received_within_6_weeks"] == "z"
    assert rows[-1]["advice_overdue_at_end"] == "1"


def test_period_labels() -> None:
    assert period_label(date(2024, 1, 1), date(2024, 12, 31)) == ("2024", "Calendar year")
    assert period_label(date(2024, 4, 1), date(2025, 3, 31)) == (
        "2024-04-01/2025-03-31",
        "Custom period",
    )


def test_csv_marks_untracked_columns_x_and_empty_percentages_z() -> None:
    rows = list(csv.reader(to_csv(_report([]), "requests").splitlines()))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["mediation_related_request"] == "x"
    assert line["request_assess_pc"] == "z"
    assert line["requests_received_in_year"] == "0"


def test_the_bundled_schema_is_the_shared_one() -> None:
    shared = require_shared(DFE_DATA.parent / "sen2" / "SEN2_schema_2024.xsd")
    bundled = Path(__file__).resolve().parents[2] / "ehc" / "reports" / "schema" / shared.name
    assert bundled.read_bytes() == shared.read_bytes()
