"""The picture of a case's 20 weeks: positions, colours by status, and its words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ehc import case_evaluation
from ehc.case_evaluation import AdviceRequestFacts, CaseFacts
from ehc.models import (
    AssessmentInput,
    CaseView,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    RequestedBy,
)
from ehc.statutory import Agency
from ehc.timeline import PLOT_LEFT, PLOT_RIGHT, timeline

DAY0 = date(2024, 9, 2)  # a Monday; the final plan is due 20 weeks later, 20 Jan 2025
AT = datetime(2024, 9, 2, 12, tzinfo=UTC)


def facts() -> CaseFacts:
    case = AssessmentInput(
        case_ref="EHC-T1", received_on=DAY0, requested_by=RequestedBy.PARENT, entered_by="1"
    )
    f = CaseFacts(case=case)
    f.add_event("request_received", DAY0, AT, "1")
    return f


def view(f: CaseFacts, today: date) -> CaseView:
    return case_evaluation.evaluate(f, today)


def test_a_new_case_runs_from_day_0_to_week_20_with_today_marked() -> None:
    today = DAY0 + timedelta(weeks=2)
    t = timeline(view(facts(), today), today)
    assert t.ticks[0].label == "0"
    assert t.ticks[0].x == PLOT_LEFT
    assert t.ticks[-1].label == "20"
    assert t.ticks[-1].x == PLOT_RIGHT
    assert t.today_x is not None
    assert PLOT_LEFT < t.today_x < PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * 0.11
    labels = [lane.label for lane in t.lanes]
    assert labels[0] == "Decision whether to assess"
    assert "Final plan" in labels
    assert t.sentences[0].startswith("Day 0 (request received) was 2 Sep 2024")
    assert "week 2" in t.sentences[1]


def test_a_missed_decision_is_a_red_lane_and_the_words_say_how_late() -> None:
    today = DAY0 + timedelta(weeks=8)  # the decision was due at 6 weeks (reg 5(1))
    t = timeline(view(facts(), today), today)
    decision = next(lane for lane in t.lanes if lane.label == "Decision whether to assess")
    assert decision.status == "breached"
    assert "breached, 14 days late" in " ".join(t.sentences)
    assert "breached: Decision whether to assess" in t.summary


def test_a_late_case_stretches_the_axis_past_week_20() -> None:
    today = DAY0 + timedelta(weeks=25)
    t = timeline(view(facts(), today), today)
    assert int(t.ticks[-1].label) >= 24
    assert t.today_x == PLOT_RIGHT
    final = next(lane for lane in t.lanes if lane.label == "Final plan")
    assert final.status == "breached"
    assert final.bar_end == PLOT_RIGHT  # the bar runs on to today


def test_advice_is_a_bar_from_receipt_to_due_with_its_answer() -> None:
    f = facts()
    f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=DAY0 + timedelta(days=20))
    f.advice_requests.append(
        AdviceRequestFacts(
            id="EHC-T1-adv1",
            agency=Agency.HEALTH,
            requested_on=DAY0 + timedelta(days=21),
            received_by_adviser_on=DAY0 + timedelta(days=21),
            advice_received_on=DAY0 + timedelta(days=70),
            outcome="received",
        )
    )
    today = DAY0 + timedelta(weeks=12)
    t = timeline(view(f, today), today)
    advice = next(lane for lane in t.lanes if lane.label == "Advice: Health")
    assert advice.status == "breached"  # answered a week after its 6 weeks
    kinds = [m.kind for m in advice.marks]
    assert kinds == ["due", "late"]
    assert advice.bar_start < advice.marks[0].x < advice.marks[1].x
    words = next(s for s in t.sentences if s.startswith("Advice: Health"))
    assert "due 4 Nov 2024" in words
    assert "met 11 Nov 2024" in words


def test_the_representation_period_starts_on_the_day_the_draft_was_served() -> None:
    f = facts()
    f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=DAY0 + timedelta(days=20))
    f.advice_requests.append(
        AdviceRequestFacts(
            id="EHC-T1-adv1",
            agency=Agency.HEALTH,
            requested_on=DAY0 + timedelta(days=21),
            received_by_adviser_on=DAY0 + timedelta(days=21),
            advice_received_on=DAY0 + timedelta(days=50),
            outcome="received",
        )
    )
    f.decision_to_issue = DecisionToIssue(decision="issue", decided_on=DAY0 + timedelta(days=80))
    served = DAY0 + timedelta(days=90)
    f.draft_plan = DraftPlan(served_on=served)
    f.add_event("draft_plan_served", served, AT, "1")
    today = DAY0 + timedelta(days=95)
    t = timeline(view(f, today), today)
    reps = next(lane for lane in t.lanes if lane.label == "Representations on the draft")
    words = next(s for s in t.sentences if s.startswith("Representations"))
    assert f"from {served.day} Dec 2024" in words
    assert reps.bar_start < reps.marks[0].x


def test_a_no_plan_limit_waiting_past_its_date_says_how_long_not_minus_days_left() -> None:
    """Rules.md 8.3: the no-plan limit stays pending past week 16 until the decision."""
    f = facts()
    f.decision_to_assess = DecisionToAssess(decision="assess", decided_on=DAY0)
    today = DAY0 + timedelta(weeks=16, days=3)
    words = " ".join(timeline(view(f, today), today).sentences)
    assert "Notice of no plan" in words
    assert "pending, 3 days past its date" in words
    assert "-3" not in words
