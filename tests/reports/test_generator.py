"""The synthetic cohort generator: deterministic, calibrated on DfE's row for the LA, every
outcome present, and scripts the workflow accepts (dates in order, all in the past)."""

from __future__ import annotations

from datetime import date

import pytest

from ehc.synthetic.calibration import CalibrationError, load_calibration
from ehc.synthetic.generator import apportion, generate_cohort
from tests.reports.conftest import DFE_DATA, require_shared

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def data() -> object:
    return require_shared(DFE_DATA)


def _cohort(seed: int = 7, la: str = "North Tyneside", cases: int = 220):
    return generate_cohort(
        la, 2024, seed=seed, cases=cases, ref_prefix="G", data_dir=DFE_DATA, today=TODAY
    )


def test_same_seed_same_cohort_other_seed_other_cohort(data: object) -> None:
    a, b, c = _cohort(7), _cohort(7), _cohort(8)
    assert [(s.case_ref, s.child, s.steps()) for s in a.scripts] == [
        (s.case_ref, s.child, s.steps()) for s in b.scripts
    ]
    assert a.known == b.known
    assert [s.steps() for s in a.scripts] != [s.steps() for s in c.scripts]


def test_the_calibration_is_dfes_row(data: object) -> None:
    cal = load_calibration("392", 2024, DFE_DATA)
    assert (cal.la_name, cal.requests_received, cal.plans_den, cal.plans_den_ex) == (
        "North Tyneside",
        452,
        230,
        221,
    )
    with pytest.raises(CalibrationError):
        load_calibration("Atlantis", 2024, DFE_DATA)


@pytest.mark.parametrize("la", ["North Tyneside", "Gateshead", "Newcastle upon Tyne", "Kent"])
def test_shares_follow_the_published_figures_and_every_outcome_is_there(
    data: object, la: str
) -> None:
    cohort = _cohort(la=la)
    cal, known = cohort.calibration, cohort.known
    assert 150 <= len(cohort.scripts) <= 300
    q, t = known.requests, known.timeliness_20_week
    share = cal.decided_to_assess / cal.requests_received
    assert abs(q["requests_decided_to_assess"] / q["requests_received_in_year"] - share) < 0.08
    within = cal.plans_within_20_weeks / cal.plans_den
    assert abs(t["plans_issued_within_20_weeks"] / t["plans_issued_den"] - within) < 0.12
    for column in (
        "requests_decided_to_assess",
        "requests_decided_not_to_assess",
        "requests_withdrawn",
        "requests_decision_not_made",
        "request_outcome_six_weeks",
        "request_outcome_over_6_weeks",
    ):
        assert q[column], column
    a = known.assessments
    for column in (
        "assess_issued",
        "assess_not_issued",
        "assess_not_made",
        "assess_withdrawn",
        "outcome_decision_within_time",
        "outcome_decision_over_time",
    ):
        assert a[column], column
    for every, without_exceptions in (
        ("plans_issued_within_20_weeks", "plans_issued_20_weeks_ex"),
        ("plans_issued_gt20weeks_ltYear", "plans_issued_gt20weeks_ltYear_ex"),
        ("plans_issued_gt_1_year", "plans_issued_gt_1_year_ex"),
    ):  # each band has plans with and without exceptions
        assert t[every] > t[without_exceptions] > 0, every
    for code in ("Y", "N", "W", "A"):
        assert known.sen2.get(f"RequestOutcome_{code}"), code
        assert known.sen2.get(f"AssessmentOutcome_{code}"), code
    assert known.sen2["Week20_0"]
    assert known.sen2["Week20_1"]


def test_scripts_are_in_an_order_the_workflow_accepts(data: object) -> None:
    order = ["decision-to-assess", "decision-to-issue", "draft-plan", "final-plan"]
    for script in _cohort().scripts:
        steps = script.steps()
        assert all(script.received_on <= s.on < TODAY for s in steps)
        actions = [s.action for s in steps]
        main = [a for a in actions if a in order]
        assert main == order[: len(main)]
        if "withdrawal" in actions:
            assert actions[-1] == "withdrawal"
        if "decision-to-issue" in actions:
            last_request = max(
                (i for i, a in enumerate(actions) if a == "advice-request"), default=-1
            )
            assert last_request < actions.index("decision-to-issue")
        if script.final_on and script.draft_on:
            assert (script.final_on - script.draft_on).days >= 15


def test_boundary_days_are_drawn_first(data: object) -> None:
    days = {s.days_to_plan for s in _cohort().scripts if s.days_to_plan}
    assert {140, 141, 364, 365} <= days


def test_too_recent_a_year_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match="too recent"):
        generate_cohort("Kent", 2024, seed=1, data_dir=DFE_DATA, today=date(2025, 6, 1))


def test_apportion_keeps_the_total_and_the_minimums() -> None:
    assert apportion(10, {"a": 2, "b": 1, "c": 1}) == {"a": 5, "b": 3, "c": 2}
    got = apportion(10, {"a": 9, "b": 1, "c": 0}, {"c": 2})
    assert sum(got.values()) == 10
    assert got["c"] == 2
