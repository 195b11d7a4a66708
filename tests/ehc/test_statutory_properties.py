"""Properties of the statutory clock that must hold for every date (rules.md sections 1-4)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ehc import statutory
from ehc.statutory import (
    Agency,
    Closure,
    ExceptionClaim,
    ExceptionKind,
    ExceptionRefused,
    Limit,
    LimitStatus,
    advice_due,
    allowed_kinds,
    closure_window,
    earliest_finalisation,
    limit_status,
    overlap_days,
    regulation_for_advice,
    representations_end,
    rule_version_allows_coronavirus,
    timescales,
    validate_exception,
)

# Fast and side-effect free: no example database written into the repository.
FAST = settings(max_examples=150, deadline=None, database=None)

FIRST_DAY = date(2014, 9, 1)  # SI 2014/1530 in force
days0 = st.dates(min_value=FIRST_DAY, max_value=date(2045, 12, 31))
any_dates = st.dates(min_value=date(2010, 1, 1), max_value=date(2050, 12, 31))


# --- due dates ------------------------------------------------------------------------------


@FAST
@given(day0=days0)
def test_due_dates_fall_on_day0s_weekday(day0: date) -> None:
    ts = timescales(day0)
    for due in (ts.decision_to_assess, ts.no_plan_notice, ts.final_plan):
        assert due.weekday() == day0.weekday()
    assert ts.advice_if_requested_on_day0.weekday() == day0.weekday()


@FAST
@given(day0=days0)
def test_final_plan_after_no_plan_notice_after_decision(day0: date) -> None:
    ts = timescales(day0)
    assert day0 < ts.decision_to_assess < ts.no_plan_notice < ts.final_plan
    assert (ts.decision_to_assess - day0).days == 42
    assert (ts.no_plan_notice - day0).days == 112
    assert (ts.final_plan - day0).days == 140


@FAST
@given(received=any_dates, agency=st.sampled_from(Agency))
def test_advice_due_is_received_plus_42_days(received: date, agency: Agency) -> None:
    assert advice_due(received) == received + timedelta(days=42)
    assert regulation_for_advice(agency)  # every agency is bound by something


@FAST
@given(day0=days0)
def test_latest_draft_service_allows_finalising_exactly_at_week_20(day0: date) -> None:
    ts = timescales(day0)
    latest = {t.name: t.due_on for t in ts.targets}["latest_draft_service"]
    assert earliest_finalisation(latest) == ts.final_plan
    assert earliest_finalisation(latest + timedelta(days=1)) > ts.final_plan


@FAST
@given(served=any_dates)
def test_representations_period_is_15_days_beginning_with_service(served: date) -> None:
    assert representations_end(served) == served + timedelta(days=14)
    assert earliest_finalisation(served) == served + timedelta(days=15)


# --- limit status ---------------------------------------------------------------------------


@FAST
@given(due=any_dates, later=st.integers(0, 800), excused=st.booleans())
def test_met_on_the_due_date_is_met(due: date, later: int, excused: bool) -> None:
    today = due + timedelta(days=later)
    status = limit_status(due_on=due, met_on=due, today=today, excused=excused)
    assert status is LimitStatus.MET


@FAST
@given(due=any_dates, late_by=st.integers(1, 400), later=st.integers(0, 400), excused=st.booleans())
def test_met_after_the_due_date_is_breached_or_exception(
    due: date, late_by: int, later: int, excused: bool
) -> None:
    met = due + timedelta(days=late_by)
    status = limit_status(
        due_on=due, met_on=met, today=met + timedelta(days=later), excused=excused
    )
    assert status is (LimitStatus.EXCEPTION if excused else LimitStatus.BREACHED)


@FAST
@given(
    due=any_dates,
    today_offset=st.integers(-400, 400),
    met_offset=st.one_of(st.none(), st.integers(-400, 0)),
    excused=st.booleans(),
)
def test_pending_never_after_the_due_date(
    due: date, today_offset: int, met_offset: int | None, excused: bool
) -> None:
    today = due + timedelta(days=today_offset)
    met_on = None if met_offset is None else today + timedelta(days=met_offset)
    status = limit_status(due_on=due, met_on=met_on, today=today, excused=excused)
    if status is LimitStatus.PENDING:
        assert today <= due
        assert met_on is None
    if met_on is None and today > due:
        assert status is (LimitStatus.EXCEPTION if excused else LimitStatus.BREACHED)
    if met_on is None and today <= due:
        assert status is LimitStatus.PENDING
    assert status is not LimitStatus.NOT_APPLICABLE


# --- exceptions never move a due date -----------------------------------------------------


def offsets(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.integers(lo, hi)


@st.composite
def claims(draw: st.DrawFn) -> tuple[ExceptionClaim, date, date, bool, date]:
    """An arbitrary claim (valid or not) on an arbitrary limit of a case with Day 0."""
    day0 = draw(
        st.one_of(
            st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)),
            # Day 0s whose limits fall due around the 2020 coronavirus window.
            st.dates(min_value=date(2019, 12, 1), max_value=date(2020, 9, 30)),
        )
    )
    limit = draw(st.sampled_from(Limit))
    kind = draw(st.sampled_from(ExceptionKind))
    refusal = draw(st.booleans())
    ts = timescales(day0)
    if limit is Limit.ADVICE:
        start = day0 + timedelta(days=draw(offsets(0, 70)))
        due = advice_due(start)
    else:
        start = day0
        due = {
            Limit.DECISION_TO_ASSESS: ts.decision_to_assess,
            Limit.NO_PLAN_NOTICE: ts.no_plan_notice,
            Limit.FINAL_PLAN: ts.final_plan,
        }.get(limit, day0 + timedelta(days=draw(offsets(0, 160))))

    # Dates near the limit's own period, so that both valid and invalid facts are common.
    starts_on = ends_on = None
    if draw(st.integers(0, 4)):
        starts_on = start + timedelta(days=draw(offsets(-40, (due - start).days + 10)))
    if draw(st.integers(0, 4)):
        base = starts_on or start
        ends_on = base + timedelta(days=draw(offsets(-5, 80)))

    closure = None
    if draw(st.integers(0, 4)):
        closed = day0 + timedelta(days=draw(offsets(-60, 160)))
        closure = Closure(
            closed_on=closed,
            reopens_on=closed + timedelta(days=draw(offsets(-5, 70))),
            advice_requested_on=closed + timedelta(days=draw(offsets(-12, 60))),
        )
    claim = ExceptionClaim(limit, kind, starts_on, ends_on, closure)
    return claim, start, due, refusal, day0


def _state() -> dict[str, Any]:
    """Every piece of module state a validator could tamper with, deep-copied."""
    return copy.deepcopy(
        {
            "ALLOWED_KINDS": statutory.ALLOWED_KINDS,
            "REGULATION": statutory.REGULATION,
            "STATUTORY": statutory.STATUTORY,
            "RULE_VERSIONS": statutory.RULE_VERSIONS,
            "REG8_AGENCIES": statutory.REG8_AGENCIES,
            "limits": {
                (limit, refusal): allowed_kinds(limit, refusal=refusal)
                for limit in Limit
                for refusal in (False, True)
            },
        }
    )


# Typed loosely so the test can check at run time that nothing is returned.
_VALIDATE: Callable[..., object] = validate_exception


def _outcome(
    claim: ExceptionClaim, start: date, due: date, refusal: bool
) -> tuple[str, str] | None:
    try:
        result = _VALIDATE(claim, period_starts_on=start, due_on=due, refusal=refusal)
    except ExceptionRefused as exc:
        return exc.rule, exc.reason
    assert result is None  # validation answers yes/no; it never hands back a new date
    return None


@settings(max_examples=400, deadline=None, database=None)
@given(case=claims())
def test_no_exception_changes_a_due_date(
    case: tuple[ExceptionClaim, date, date, bool, date],
) -> None:
    claim, start, due, refusal, day0 = case
    ts_before = timescales(day0)
    claim_before = copy.deepcopy(claim)
    state_before = _state()
    due_before = due
    status_on_due = {
        excused: limit_status(due_on=due, met_on=due, today=due, excused=excused)
        for excused in (False, True)
    }

    first = _outcome(claim, start, due, refusal)
    second = _outcome(claim, start, due, refusal)

    assert first == second  # no hidden state carried between calls
    assert claim == claim_before
    assert due == due_before
    assert timescales(day0) == ts_before
    assert _state() == state_before
    # Accepted or not, a limit met on its due date is met, and the day after is late.
    accepted = first is None
    assert limit_status(due_on=due, met_on=due, today=due, excused=accepted) is LimitStatus.MET
    assert status_on_due == {False: LimitStatus.MET, True: LimitStatus.MET}
    late = limit_status(due_on=due, met_on=None, today=due + timedelta(days=1), excused=accepted)
    assert late is (LimitStatus.EXCEPTION if accepted else LimitStatus.BREACHED)
    still_pending = limit_status(due_on=due, met_on=None, today=due, excused=accepted)
    assert still_pending is LimitStatus.PENDING


@settings(max_examples=400, deadline=None, database=None)
@given(case=claims())
def test_accepted_claims_satisfy_rules_md_section_3(
    case: tuple[ExceptionClaim, date, date, bool, date],
) -> None:
    claim, start, due, refusal, _ = case
    outcome = _outcome(claim, start, due, refusal)
    event(f"{claim.kind.value}: {'refused' if outcome else 'accepted'}")
    if claim.kind not in allowed_kinds(claim.limit, refusal=refusal):
        assert outcome is not None
        return
    if outcome is not None:
        rule, reason = outcome
        assert rule
        assert reason.endswith(".")
        return
    if claim.kind in (ExceptionKind.SCHOOL_CLOSURE, ExceptionKind.EARLY_YEARS_CLOSURE):
        assert claim.closure is not None
        assert (claim.closure.reopens_on - claim.closure.closed_on).days >= 28
        opens, closes = closure_window(claim.closure)
        assert opens <= claim.closure.advice_requested_on <= closes
    elif claim.kind is ExceptionKind.ABSENT_FROM_AREA:
        assert claim.starts_on is not None
        assert claim.ends_on is not None
        assert overlap_days(claim.starts_on, claim.ends_on, start, due) >= 28
    elif claim.kind is ExceptionKind.CORONAVIRUS:
        assert date(2020, 5, 1) <= due <= date(2020, 9, 25)
        assert rule_version_allows_coronavirus(due)
    elif claim.kind is ExceptionKind.MISSED_APPOINTMENT:
        assert claim.limit is Limit.ADVICE
        assert claim.starts_on is not None
        assert start <= claim.starts_on <= due


def test_state_snapshot_detects_tampering(monkeypatch: pytest.MonkeyPatch) -> None:
    """The no-move property above can fail: a validator that edits a table is caught."""
    before = _state()
    tampered = dict(statutory.ALLOWED_KINDS)
    tampered[Limit.ADVICE] = frozenset(ExceptionKind)
    monkeypatch.setattr(statutory, "ALLOWED_KINDS", tampered)
    assert _state() != before
