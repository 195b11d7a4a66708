"""Examples for the statutory clock in ``ehc/statutory.py``.

The expected values come from ``shared/domain/rules.md`` (the product's decisions) and the
worked examples W1-W6 and W10 in section 10 of ``shared/domain/statutory-research.md``.
They are written out as literal dates here, never recomputed with the code under test.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import pytest

from ehc import statutory
from ehc.statutory import (
    Agency,
    Anchor,
    Closure,
    ExceptionClaim,
    ExceptionKind,
    ExceptionRefused,
    Limit,
    LimitStatus,
    NoRuleVersion,
    advice_due,
    allowed_kinds,
    closure_window,
    decision_to_assess_due,
    earliest_finalisation,
    final_plan_due,
    limit_status,
    no_plan_notice_due,
    regulation_for_advice,
    representations_end,
    rule_version,
    rule_version_allows_coronavirus,
    school_consultation_due,
    timescales,
    validate_exception,
)

D = date
MON, SUN = 0, 6


def refused(claim: ExceptionClaim, *, start: date, due: date, refusal: bool = False) -> str:
    """Validate a claim that must be refused; return the rule it was refused under."""
    with pytest.raises(ExceptionRefused) as info:
        validate_exception(claim, period_starts_on=start, due_on=due, refusal=refusal)
    assert_readable(info.value)
    return info.value.rule


def accepted(claim: ExceptionClaim, *, start: date, due: date, refusal: bool = False) -> None:
    """Validate a claim that must be accepted (returns None, raises nothing)."""
    validate_exception(claim, period_starts_on=start, due_on=due, refusal=refusal)


CITATION = re.compile(
    r"\b(?:[Rr]eg(?:s|ulations?)?\.?\s+\d|CoP\b|Code of Practice|CFA\b|SI 20(?:14|20)/\d+)"
)


def assert_readable(exc: ExceptionRefused) -> None:
    """A refusal names its rule and explains itself in a sentence a caseworker can read."""
    assert exc.rule, "ExceptionRefused.rule must name the rule that refuses the claim"
    assert CITATION.search(exc.rule), f"rule {exc.rule!r} does not cite a regulation"
    message = str(exc)
    assert message == exc.reason
    assert message[0].isupper(), message
    assert message.endswith("."), message
    assert len(message.split()) >= 6, message
    for leak in ("Limit.", "ExceptionKind.", "None", "<", "_"):
        assert leak not in message, f"{leak!r} leaks into the message: {message}"


# --- W1: request received Mon 2 Sep 2024, no exceptions ---------------------------------


def test_w1_day0_due_dates() -> None:
    ts = timescales(D(2024, 9, 2))
    assert ts.received_on == D(2024, 9, 2)
    assert ts.anchor is Anchor.REQUEST
    assert ts.decision_to_assess == D(2024, 10, 14)
    assert ts.no_plan_notice == D(2024, 12, 23)
    assert ts.final_plan == D(2025, 1, 20)
    assert ts.advice_if_requested_on_day0 == D(2024, 10, 14)


def test_w1_statutory_dates_are_mondays_not_the_inclusive_count_sundays() -> None:
    # Research section 9 item 1: the inclusive count (Sun 13 Oct, 22 Dec, 19 Jan) is only an
    # internal target; the statutory date keeps the request's weekday.
    ts = timescales(D(2024, 9, 2))
    for due in (ts.decision_to_assess, ts.no_plan_notice, ts.final_plan):
        assert due.weekday() == MON
    assert ts.decision_to_assess != D(2024, 10, 13)
    assert ts.final_plan != D(2025, 1, 19)


def test_w1_advice_due_from_the_advisers_receipt() -> None:
    # The health body receives the LA's request on Mon 14 Oct 2024.
    assert advice_due(D(2024, 10, 14)) == D(2024, 11, 25)


def test_w1_derived_targets() -> None:
    targets = {t.name: t for t in timescales(D(2024, 9, 2)).targets}
    assert targets["draft_plan"].due_on == D(2024, 12, 9)
    assert targets["latest_draft_service"].due_on == D(2025, 1, 5)
    assert targets["latest_draft_service"].due_on.weekday() == SUN
    assert targets["advice_requests_sent"].due_on == D(2024, 10, 21)
    for target in targets.values():
        assert target.basis


def test_w1_latest_draft_service_leaves_fifteen_days_before_week_20() -> None:
    # Served 5 Jan -> representations 5-19 Jan -> earliest finalisation 20 Jan = week 20.
    assert representations_end(D(2025, 1, 5)) == D(2025, 1, 19)
    assert earliest_finalisation(D(2025, 1, 5)) == D(2025, 1, 20) == final_plan_due(D(2024, 9, 2))
    # One day later and the plan can no longer be finalised by week 20.
    assert earliest_finalisation(D(2025, 1, 6)) > final_plan_due(D(2024, 9, 2))


def test_brought_to_attention_anchor_gives_the_same_dates() -> None:
    by_request = timescales(D(2024, 9, 2), Anchor.REQUEST)
    by_attention = timescales(D(2024, 9, 2), Anchor.BROUGHT_TO_ATTENTION)
    assert by_attention.anchor is Anchor.BROUGHT_TO_ATTENTION
    assert by_attention.decision_to_assess == by_request.decision_to_assess
    assert by_attention.no_plan_notice == by_request.no_plan_notice
    assert by_attention.final_plan == by_request.final_plan
    assert by_attention.targets == by_request.targets


# --- W2: request received Mon 3 Jun 2024; school closes for the summer ---------------------

SUMMER_2024 = {"closed_on": D(2024, 7, 20), "reopens_on": D(2024, 9, 3)}


def test_w2_base_deadlines() -> None:
    ts = timescales(D(2024, 6, 3))
    assert ts.decision_to_assess == D(2024, 7, 15)
    assert ts.no_plan_notice == D(2024, 9, 23)
    assert ts.final_plan == D(2024, 10, 21)


def test_w2_closure_window() -> None:
    closure = Closure(**SUMMER_2024, advice_requested_on=D(2024, 7, 15))
    assert (closure.reopens_on - closure.closed_on).days == 45
    assert closure_window(closure) == (D(2024, 7, 13), D(2024, 8, 27))


@pytest.mark.parametrize("limit", [Limit.NO_PLAN_NOTICE, Limit.FINAL_PLAN])
def test_w2_closure_accepted_for_16_and_20_weeks_and_due_date_stands(limit: Limit) -> None:
    ts = timescales(D(2024, 6, 3))
    due = ts.no_plan_notice if limit is Limit.NO_PLAN_NOTICE else ts.final_plan
    claim = ExceptionClaim(
        limit,
        ExceptionKind.SCHOOL_CLOSURE,
        closure=Closure(**SUMMER_2024, advice_requested_on=D(2024, 7, 15)),
    )
    accepted(claim, start=D(2024, 6, 3), due=due)
    # No statutory new date: the due dates are exactly as before.
    assert timescales(D(2024, 6, 3)) == ts
    assert ts.final_plan == D(2024, 10, 21)


@pytest.mark.parametrize(
    ("requested_on", "ok"),
    [
        (D(2024, 7, 12), False),
        (D(2024, 7, 13), True),
        (D(2024, 8, 27), True),
        (D(2024, 8, 28), False),
    ],
)
def test_w2_closure_window_edges_are_inclusive(requested_on: date, ok: bool) -> None:
    claim = ExceptionClaim(
        Limit.FINAL_PLAN,
        ExceptionKind.SCHOOL_CLOSURE,
        closure=Closure(**SUMMER_2024, advice_requested_on=requested_on),
    )
    if ok:
        accepted(claim, start=D(2024, 6, 3), due=D(2024, 10, 21))
    else:
        rule = refused(claim, start=D(2024, 6, 3), due=D(2024, 10, 21))
        assert "10(4)(a)" in rule


def test_w2_advice_due_on_a_bank_holiday_and_no_closure_exception() -> None:
    # Reg 8 is in calendar weeks: 26 Aug 2024 is a bank holiday and still the due date.
    assert advice_due(D(2024, 7, 15)) == D(2024, 8, 26)
    claim = ExceptionClaim(
        Limit.ADVICE,
        ExceptionKind.SCHOOL_CLOSURE,
        closure=Closure(**SUMMER_2024, advice_requested_on=D(2024, 7, 15)),
    )
    assert "8(2)" in refused(claim, start=D(2024, 7, 15), due=D(2024, 8, 26))


# --- W3: request received Mon 1 Jul 2024 (same school calendar) ---------------------------


def test_w3_base_deadlines() -> None:
    ts = timescales(D(2024, 7, 1))
    assert ts.decision_to_assess == D(2024, 8, 12)
    assert ts.no_plan_notice == D(2024, 10, 21)
    assert ts.final_plan == D(2024, 11, 18)


def _w3_claim(requested_on: date) -> ExceptionClaim:
    return ExceptionClaim(
        Limit.DECISION_TO_ASSESS,
        ExceptionKind.SCHOOL_CLOSURE,
        closure=Closure(**SUMMER_2024, advice_requested_on=requested_on),
    )


def test_w3a_request_before_the_window_is_refused() -> None:
    with pytest.raises(ExceptionRefused) as info:
        validate_exception(
            _w3_claim(D(2024, 7, 10)), period_starts_on=D(2024, 7, 1), due_on=D(2024, 8, 12)
        )
    assert_readable(info.value)
    assert info.value.rule == "reg 5(4)(a)"
    assert "2024-07-10" in info.value.reason
    assert "2024-07-13" in info.value.reason


def test_w3b_request_inside_the_window_is_accepted() -> None:
    accepted(_w3_claim(D(2024, 7, 15)), start=D(2024, 7, 1), due=D(2024, 8, 12))


def test_w3_refusal_to_assess_has_no_closure_exception() -> None:
    # Reg 4(1) has no closure exception: 12 Aug stands even in case (b).
    rule = refused(_w3_claim(D(2024, 7, 15)), start=D(2024, 7, 1), due=D(2024, 8, 12), refusal=True)
    assert rule == "reg 4(1)"


@pytest.mark.parametrize("kind", sorted(set(ExceptionKind) - {ExceptionKind.CORONAVIRUS}))
def test_refusal_to_assess_refuses_every_kind_but_coronavirus(kind: ExceptionKind) -> None:
    claim = _valid_claim(Limit.DECISION_TO_ASSESS, kind)
    rule = refused(claim, start=COVID_DAY0, due=COVID_DUE[Limit.DECISION_TO_ASSESS], refusal=True)
    assert rule == "reg 4(1)"


def test_refusal_to_assess_allows_coronavirus_only_inside_the_2020_window() -> None:
    claim = ExceptionClaim(Limit.DECISION_TO_ASSESS, ExceptionKind.CORONAVIRUS)
    accepted(claim, start=D(2020, 7, 1), due=D(2020, 8, 12), refusal=True)
    rule = refused(claim, start=D(2024, 7, 1), due=D(2024, 8, 12), refusal=True)
    assert rule == "SI 2020/471"
    assert allowed_kinds(Limit.DECISION_TO_ASSESS, refusal=True) == {ExceptionKind.CORONAVIRUS}


# --- W4 and W6: pure arithmetic -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day0", "six", "sixteen", "twenty"),
    [
        (D(2024, 7, 8), D(2024, 8, 19), D(2024, 10, 28), D(2024, 11, 25)),  # W4
        (D(2025, 1, 15), D(2025, 2, 26), D(2025, 5, 7), D(2025, 6, 4)),  # W6
        (D(2025, 2, 28), D(2025, 4, 11), D(2025, 6, 20), D(2025, 7, 18)),  # W6
    ],
)
def test_w4_w6_due_dates(day0: date, six: date, sixteen: date, twenty: date) -> None:
    assert decision_to_assess_due(day0) == six
    assert no_plan_notice_due(day0) == sixteen
    assert final_plan_due(day0) == twenty
    ts = timescales(day0)
    assert (ts.decision_to_assess, ts.no_plan_notice, ts.final_plan) == (six, sixteen, twenty)


# --- W5: absence from the area --------------------------------------------------------------

W5_DAY0 = D(2024, 9, 2)
W5_ABROAD = (D(2024, 11, 1), D(2024, 12, 6))  # 36 days


def _abroad(limit: Limit) -> ExceptionClaim:
    return ExceptionClaim(
        limit, ExceptionKind.ABSENT_FROM_AREA, starts_on=W5_ABROAD[0], ends_on=W5_ABROAD[1]
    )


@pytest.mark.parametrize(
    ("limit", "due"),
    [(Limit.NO_PLAN_NOTICE, D(2024, 12, 23)), (Limit.FINAL_PLAN, D(2025, 1, 20))],
)
def test_w5_absence_accepted_for_16_and_20_weeks(limit: Limit, due: date) -> None:
    accepted(_abroad(limit), start=W5_DAY0, due=due)


def test_w5_absence_is_36_days_and_inside_the_20_week_period() -> None:
    assert statutory.overlap_days(*W5_ABROAD, *W5_ABROAD) == 36
    assert statutory.overlap_days(*W5_ABROAD, W5_DAY0, D(2025, 1, 20)) == 36
    assert statutory.overlap_days(*W5_ABROAD, D(2024, 10, 14), D(2024, 11, 25)) == 25


def test_w5_absence_does_not_touch_the_6_week_decision() -> None:
    claim = _abroad(Limit.DECISION_TO_ASSESS)
    assert refused(claim, start=W5_DAY0, due=D(2024, 10, 14)) == "reg 5(4)(c)"  # 3 limbs


def test_w5_absence_refused_for_advice_only_25_days_inside() -> None:
    claim = _abroad(Limit.ADVICE)
    with pytest.raises(ExceptionRefused) as info:
        validate_exception(claim, period_starts_on=D(2024, 10, 14), due_on=D(2024, 11, 25))
    assert_readable(info.value)
    assert info.value.rule == "reg 8(2)(b)"
    assert "25 days" in info.value.reason


def test_w5_missed_appointment_allowed_on_advice() -> None:
    claim = ExceptionClaim(Limit.ADVICE, ExceptionKind.MISSED_APPOINTMENT, starts_on=D(2024, 11, 4))
    accepted(claim, start=D(2024, 10, 14), due=D(2024, 11, 25))


@pytest.mark.parametrize(
    ("limit", "due", "rule"),
    [
        (Limit.DECISION_TO_ASSESS, D(2024, 10, 14), "reg 5(4)"),
        (Limit.NO_PLAN_NOTICE, D(2024, 12, 23), "reg 10(4)"),
        (Limit.FINAL_PLAN, D(2025, 1, 20), "reg 13(3)"),
    ],
)
def test_w5_missed_appointment_refused_on_la_limits(limit: Limit, due: date, rule: str) -> None:
    claim = ExceptionClaim(limit, ExceptionKind.MISSED_APPOINTMENT, starts_on=D(2024, 11, 4))
    assert refused(claim, start=W5_DAY0, due=due) == rule


def test_missed_appointment_outside_the_6_week_period_or_undated_is_refused() -> None:
    late = ExceptionClaim(Limit.ADVICE, ExceptionKind.MISSED_APPOINTMENT, starts_on=D(2024, 11, 26))
    assert refused(late, start=D(2024, 10, 14), due=D(2024, 11, 25)) == "reg 8(2)(c)"
    undated = ExceptionClaim(Limit.ADVICE, ExceptionKind.MISSED_APPOINTMENT)
    assert refused(undated, start=D(2024, 10, 14), due=D(2024, 11, 25)) == "reg 8(2)(c)"


# --- W10: the coronavirus window -------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "available"),
    [
        (D(2020, 4, 30), False),
        (D(2020, 5, 1), True),
        (D(2020, 9, 25), True),
        (D(2020, 9, 26), False),
        (D(2014, 1, 1), False),  # before the Regulations: no version at all
    ],
)
def test_w10_coronavirus_window_boundaries(on: date, available: bool) -> None:
    assert rule_version_allows_coronavirus(on) is available
    claim = ExceptionClaim(Limit.FINAL_PLAN, ExceptionKind.CORONAVIRUS)
    if available:
        accepted(claim, start=on - timedelta(weeks=20), due=on)
    else:
        assert refused(claim, start=on - timedelta(weeks=20), due=on) == "SI 2020/471"


@pytest.mark.parametrize(
    ("day0", "limit", "due", "available"),
    [
        (D(2020, 3, 2), Limit.DECISION_TO_ASSESS, D(2020, 4, 13), False),
        (D(2020, 3, 2), Limit.NO_PLAN_NOTICE, D(2020, 6, 22), True),
        (D(2020, 3, 2), Limit.FINAL_PLAN, D(2020, 7, 20), True),
        (D(2020, 7, 1), Limit.DECISION_TO_ASSESS, D(2020, 8, 12), True),
        (D(2020, 7, 1), Limit.NO_PLAN_NOTICE, D(2020, 10, 21), False),
        (D(2020, 7, 1), Limit.FINAL_PLAN, D(2020, 11, 18), False),
    ],
)
def test_w10_coronavirus_by_due_date(day0: date, limit: Limit, due: date, available: bool) -> None:
    ts = timescales(day0)
    assert {
        Limit.DECISION_TO_ASSESS: ts.decision_to_assess,
        Limit.NO_PLAN_NOTICE: ts.no_plan_notice,
        Limit.FINAL_PLAN: ts.final_plan,
    }[limit] == due
    claim = ExceptionClaim(limit, ExceptionKind.CORONAVIRUS)
    if available:
        accepted(claim, start=day0, due=due)
    else:
        rule = refused(claim, start=day0, due=due)
        assert rule == "SI 2020/471"


# --- limit_status ------------------------------------------------------------------------------

DUE = D(2024, 10, 14)
DAY_AFTER = D(2024, 10, 15)


def test_status_pending_before_and_on_the_due_date() -> None:
    assert limit_status(due_on=DUE, met_on=None, today=D(2024, 9, 2)) is LimitStatus.PENDING
    assert limit_status(due_on=DUE, met_on=None, today=DUE) is LimitStatus.PENDING
    assert limit_status(due_on=DUE, met_on=None, today=DUE, excused=True) is LimitStatus.PENDING


@pytest.mark.parametrize("excused", [False, True])
def test_status_met_on_the_due_date(excused: bool) -> None:
    for today in (DUE, DAY_AFTER, D(2026, 1, 1)):
        status = limit_status(due_on=DUE, met_on=DUE, today=today, excused=excused)
        assert status is LimitStatus.MET
    assert limit_status(due_on=DUE, met_on=D(2024, 9, 30), today=DUE) is LimitStatus.MET


def test_status_breached_the_day_after() -> None:
    assert limit_status(due_on=DUE, met_on=None, today=DAY_AFTER) is LimitStatus.BREACHED
    assert limit_status(due_on=DUE, met_on=DAY_AFTER, today=DAY_AFTER) is LimitStatus.BREACHED


def test_status_exception_when_excused() -> None:
    unmet = limit_status(due_on=DUE, met_on=None, today=DAY_AFTER, excused=True)
    late = limit_status(due_on=DUE, met_on=D(2024, 12, 1), today=D(2025, 1, 1), excused=True)
    assert unmet is LimitStatus.EXCEPTION
    assert late is LimitStatus.EXCEPTION


def test_status_not_applicable_wins() -> None:
    for met_on in (None, DUE, DAY_AFTER):
        for excused in (False, True):
            status = limit_status(
                due_on=DUE, met_on=met_on, today=DAY_AFTER, applicable=False, excused=excused
            )
            assert status is LimitStatus.NOT_APPLICABLE


# --- representations (reg 13(1)), school consultation, advice regulation -----------------------


@pytest.mark.parametrize("served", [D(2024, 12, 9), D(2025, 1, 5), D(2024, 2, 20), D(2024, 12, 31)])
def test_representations_period_counts_the_service_day_as_day_one(served: date) -> None:
    end = representations_end(served)
    assert end == served + timedelta(days=14)
    assert (end - served).days + 1 == 15  # days served..end inclusive
    assert earliest_finalisation(served) == served + timedelta(days=15)


def test_representations_literal_dates() -> None:
    assert representations_end(D(2024, 12, 9)) == D(2024, 12, 23)
    assert earliest_finalisation(D(2024, 12, 9)) == D(2024, 12, 24)
    assert representations_end(D(2024, 2, 20)) == D(2024, 3, 5)  # across 29 Feb


def test_school_consultation_is_fifteen_days_and_not_statutory() -> None:
    assert school_consultation_due(D(2024, 12, 9)) == D(2024, 12, 24)
    assert statutory.STATUTORY[Limit.SCHOOL_CONSULTATION] is False
    assert "guidance" in statutory.REGULATION[Limit.SCHOOL_CONSULTATION]
    for limit in Limit:
        if limit is not Limit.SCHOOL_CONSULTATION:
            assert statutory.STATUTORY[limit] is True


def test_regulation_for_advice() -> None:
    assert "reg 8(1)" in regulation_for_advice(Agency.HEALTH)
    for agency in set(Agency) - {Agency.HEALTH}:
        assert "9.41" in regulation_for_advice(agency)


# --- rule versions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "name", "coronavirus"),
    [
        (D(2014, 9, 1), "v2014", False),
        (D(2017, 6, 1), "v2014", False),
        (D(2020, 4, 30), "v2014", False),
        (D(2020, 5, 1), "v2020cv", True),
        (D(2020, 9, 25), "v2020cv", True),
        (D(2020, 9, 26), "v2020post", False),
        (D(2035, 1, 1), "v2020post", False),
    ],
)
def test_rule_version_by_date(on: date, name: str, coronavirus: bool) -> None:
    version = rule_version(on)
    assert version.name == name
    assert version.coronavirus_exception is coronavirus
    assert version.starts_on <= on
    assert version.ends_on is None or on <= version.ends_on


def test_rule_versions_are_contiguous() -> None:
    versions = statutory.RULE_VERSIONS
    for earlier, later in pairwise(versions):
        assert earlier.ends_on is not None
        assert later.starts_on == earlier.ends_on + timedelta(days=1)
    assert versions[-1].ends_on is None


def test_no_rule_version_before_september_2014() -> None:
    with pytest.raises(NoRuleVersion, match="1 September 2014") as info:
        rule_version(D(2014, 8, 31))
    assert isinstance(info.value, ValueError)
    assert "2014-08-31" in str(info.value)


# --- applicability of every exception kind to every limit (rules.md section 3) ---------------

# Literal transcription of the table; "refusal" is the reg 4(1) refusal notice.
Y, N = True, False
HEADER = ("d2a", "refusal", "advice", "np", "fp")
TABLE: dict[ExceptionKind, dict[str, bool]] = {
    kind: dict(zip(HEADER, row, strict=True))
    for kind, row in (
        # columns: decision to assess, refusal notice, advice, no-plan notice, final plan
        (ExceptionKind.SCHOOL_CLOSURE, (Y, N, N, Y, Y)),
        # rules.md 8.6: reg 5(4) has no early-years limb.
        (ExceptionKind.EARLY_YEARS_CLOSURE, (N, N, N, Y, Y)),
        (ExceptionKind.PERSONAL_CIRCUMSTANCES, (Y, N, Y, Y, Y)),
        (ExceptionKind.ABSENT_FROM_AREA, (Y, N, Y, Y, Y)),
        (ExceptionKind.MISSED_APPOINTMENT, (N, N, Y, N, N)),
        (ExceptionKind.CORONAVIRUS, (Y, Y, Y, Y, Y)),
    )
}
# The rule named when a kind is not allowed on a limit (the table's column headings).
COLUMN_RULE: dict[Limit, str] = {
    Limit.DECISION_TO_ASSESS: "reg 5(4)",
    Limit.ADVICE: "reg 8(2)",
    Limit.NO_PLAN_NOTICE: "reg 10(4)",
    Limit.FINAL_PLAN: "reg 13(3)",
}
COLUMNS: dict[str, tuple[Limit, bool]] = {
    "d2a": (Limit.DECISION_TO_ASSESS, False),
    "refusal": (Limit.DECISION_TO_ASSESS, True),
    "advice": (Limit.ADVICE, False),
    "np": (Limit.NO_PLAN_NOTICE, False),
    "fp": (Limit.FINAL_PLAN, False),
}
CELLS = [(kind, column) for kind in ExceptionKind for column in COLUMNS]

# A Day 0 that puts every limit's due date inside the coronavirus window, so that a valid
# claim's fate depends only on the table.
COVID_DAY0 = D(2020, 4, 1)
COVID_DUE: dict[Limit, date] = {
    Limit.DECISION_TO_ASSESS: D(2020, 5, 13),
    Limit.ADVICE: D(2020, 5, 13),
    Limit.NO_PLAN_NOTICE: D(2020, 7, 22),
    Limit.FINAL_PLAN: D(2020, 8, 19),
    Limit.DRAFT_REPRESENTATIONS: D(2020, 6, 1),
    Limit.SCHOOL_CONSULTATION: D(2020, 6, 1),
}


def _valid_claim(limit: Limit, kind: ExceptionKind) -> ExceptionClaim:
    """A claim whose facts satisfy every kind-specific test, for the COVID_DAY0 case."""
    due = COVID_DUE[limit]
    return ExceptionClaim(
        limit,
        kind,
        starts_on=COVID_DAY0 + timedelta(days=3),
        ends_on=due,
        closure=Closure(
            closed_on=D(2020, 4, 4), reopens_on=D(2020, 6, 1), advice_requested_on=D(2020, 4, 2)
        ),
    )


def test_table_covers_every_kind_and_the_facts_are_valid() -> None:
    assert set(TABLE) == set(ExceptionKind)
    for limit in (Limit.DECISION_TO_ASSESS, Limit.ADVICE, Limit.NO_PLAN_NOTICE, Limit.FINAL_PLAN):
        assert rule_version_allows_coronavirus(COVID_DUE[limit])
    assert timescales(COVID_DAY0).decision_to_assess == COVID_DUE[Limit.DECISION_TO_ASSESS]
    assert timescales(COVID_DAY0).no_plan_notice == COVID_DUE[Limit.NO_PLAN_NOTICE]
    assert timescales(COVID_DAY0).final_plan == COVID_DUE[Limit.FINAL_PLAN]
    assert advice_due(COVID_DAY0) == COVID_DUE[Limit.ADVICE]


@pytest.mark.parametrize(("kind", "column"), CELLS, ids=[f"{k.value}-{c}" for k, c in CELLS])
def test_applicability_cell(kind: ExceptionKind, column: str) -> None:
    limit, refusal = COLUMNS[column]
    expected = TABLE[kind][column]
    assert (kind in allowed_kinds(limit, refusal=refusal)) is expected
    claim = _valid_claim(limit, kind)
    if expected:
        accepted(claim, start=COVID_DAY0, due=COVID_DUE[limit], refusal=refusal)
    else:
        rule = refused(claim, start=COVID_DAY0, due=COVID_DUE[limit], refusal=refusal)
        assert rule == ("reg 4(1)" if refusal else COLUMN_RULE[limit])


@pytest.mark.parametrize("limit", [Limit.DRAFT_REPRESENTATIONS, Limit.SCHOOL_CONSULTATION])
@pytest.mark.parametrize("kind", list(ExceptionKind))
def test_limits_outside_the_table_admit_no_exception(limit: Limit, kind: ExceptionKind) -> None:
    assert allowed_kinds(limit) == frozenset()
    refused(_valid_claim(limit, kind), start=COVID_DAY0, due=COVID_DUE[limit])


# --- closure and absence facts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "ok"), [(27, False), (28, True), (29, True), (0, False), (-3, False)]
)
def test_closure_must_last_28_days(days: int, ok: bool) -> None:
    closed = D(2024, 7, 20)
    claim = ExceptionClaim(
        Limit.FINAL_PLAN,
        ExceptionKind.EARLY_YEARS_CLOSURE,
        closure=Closure(closed, closed + timedelta(days=days), advice_requested_on=closed),
    )
    if ok:
        accepted(claim, start=D(2024, 6, 3), due=D(2024, 10, 21))
    else:
        with pytest.raises(ExceptionRefused) as info:
            validate_exception(claim, period_starts_on=D(2024, 6, 3), due_on=D(2024, 10, 21))
        assert_readable(info.value)
        assert info.value.rule == "reg 13(3) with reg 10(4)(b)"
        assert "28 days" in info.value.reason


@pytest.mark.parametrize("kind", [ExceptionKind.SCHOOL_CLOSURE, ExceptionKind.EARLY_YEARS_CLOSURE])
def test_closure_without_its_dates_is_refused(kind: ExceptionKind) -> None:
    claim = ExceptionClaim(Limit.NO_PLAN_NOTICE, kind)
    rule = refused(claim, start=D(2024, 6, 3), due=D(2024, 9, 23))
    assert rule.startswith("reg 10(4)(")


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [(None, None), (D(2024, 11, 1), None), (None, D(2024, 12, 6))],
)
def test_absence_without_dates_is_refused(starts_on: date | None, ends_on: date | None) -> None:
    claim = ExceptionClaim(
        Limit.FINAL_PLAN, ExceptionKind.ABSENT_FROM_AREA, starts_on=starts_on, ends_on=ends_on
    )
    assert refused(claim, start=W5_DAY0, due=D(2025, 1, 20)) == "reg 13(3) with reg 10(4)(d)"


def test_absence_ending_before_it_starts_is_refused() -> None:
    claim = ExceptionClaim(
        Limit.FINAL_PLAN,
        ExceptionKind.ABSENT_FROM_AREA,
        starts_on=D(2024, 12, 6),
        ends_on=D(2024, 11, 1),
    )
    refused(claim, start=W5_DAY0, due=D(2025, 1, 20))


@pytest.mark.parametrize(("inside", "ok"), [(27, False), (28, True)])
def test_absence_needs_28_days_inside_the_period(inside: int, ok: bool) -> None:
    # The absence starts well before the advice period; only the days inside it count.
    received, due = D(2024, 10, 14), D(2024, 11, 25)
    claim = ExceptionClaim(
        Limit.ADVICE,
        ExceptionKind.ABSENT_FROM_AREA,
        starts_on=D(2024, 8, 1),
        ends_on=received + timedelta(days=inside - 1),
    )
    if ok:
        accepted(claim, start=received, due=due)
    else:
        assert refused(claim, start=received, due=due) == "reg 8(2)(b)"


def test_personal_circumstances_accepted_on_every_limit_in_the_table() -> None:
    for limit in (Limit.DECISION_TO_ASSESS, Limit.ADVICE, Limit.NO_PLAN_NOTICE, Limit.FINAL_PLAN):
        accepted(
            ExceptionClaim(limit, ExceptionKind.PERSONAL_CIRCUMSTANCES, starts_on=D(2024, 9, 20)),
            start=D(2024, 9, 2),
            due=D(2024, 10, 14),
        )


def test_wrong_kind_message_names_the_rule_and_the_allowed_kinds() -> None:
    claim = ExceptionClaim(
        Limit.ADVICE,
        ExceptionKind.SCHOOL_CLOSURE,
        closure=Closure(**SUMMER_2024, advice_requested_on=D(2024, 7, 15)),
    )
    with pytest.raises(ExceptionRefused) as info:
        validate_exception(claim, period_starts_on=D(2024, 7, 15), due_on=D(2024, 8, 26))
    assert info.value.rule == "reg 8(2)"
    assert "reg 8(2)" in info.value.reason
    assert "missed appointment" in info.value.reason
    assert "school closure" in info.value.reason


# --- docstrings cite the law ------------------------------------------------------------------

STATUTORY_RULES: tuple[str, ...] = (
    "within_weeks",
    "period_beginning_with",
    "decision_to_assess_due",
    "no_plan_notice_due",
    "final_plan_due",
    "advice_due",
    "representations_end",
    "earliest_finalisation",
    "school_consultation_due",
    "regulation_for_advice",
    "advice_is_statutory",
    "advice_period_start",
    "advice_due_for",
    "limb",
    "timescales",
    "limit_status",
    "rule_version",
    "allowed_kinds",
    "closure_window",
    "validate_exception",
    "rule_version_allows_coronavirus",
    # classes that encode a rule
    "Anchor",
    "Agency",
    "Closure",
)
# Public functions that implement no statutory rule (arithmetic and UK civil time).
NOT_RULES: frozenset[str] = frozenset(
    {"overlap_days", "london_offset", "london_date", "end_of_london_day"}
)

LAW = re.compile(
    r"\b(?:[Rr]eg(?:s|ulations?)?\.?\s+\d|CoP\b|Code of Practice|CFA\b|SI 20(?:14|20)/\d+)"
)


def cites_law(obj: Callable[..., Any] | type) -> bool:
    """True when the object's own docstring cites a regulation, CoP paragraph or CFA section."""
    doc = obj.__doc__
    return doc is not None and LAW.search(doc) is not None


def test_every_public_function_is_classified() -> None:
    public = {
        name
        for name, fn in inspect.getmembers(statutory, inspect.isfunction)
        if fn.__module__ == statutory.__name__ and not name.startswith("_")
    }
    unclassified = public - set(STATUTORY_RULES) - NOT_RULES
    assert not unclassified, f"classify these as rules or helpers: {sorted(unclassified)}"
    assert set(STATUTORY_RULES) | NOT_RULES >= public


@pytest.mark.parametrize("name", STATUTORY_RULES)
def test_statutory_rule_docstring_cites_the_law(name: str) -> None:
    obj = getattr(statutory, name)
    assert obj.__doc__, f"{name} has no docstring"
    assert cites_law(obj), f"{name}'s docstring cites no regulation, CoP paragraph or CFA section"


def test_citation_check_catches_a_missing_or_empty_docstring() -> None:
    def bare(day0: date) -> date:
        return day0

    def vague(day0: date) -> date:
        """Regarding the regular deadline."""
        return day0

    def cited(day0: date) -> date:
        """Reg 13(2): twenty weeks."""
        return day0

    assert not cites_law(bare)
    assert not cites_law(vague)
    assert cites_law(cited)


def test_removing_a_docstring_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statutory.final_plan_due, "__doc__", None)
    assert not cites_law(statutory.final_plan_due)
