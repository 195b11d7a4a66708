"""The timescales calculator as data: one shape for the CLI's --json and GET /timescales."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from ehc import statutory
from ehc.statutory import Anchor, Limit


class DueDate(BaseModel):
    limit: str = Field(examples=["final_plan"])
    regulation: str
    due_on: date
    counted_from: str
    statutory: bool = True


class TargetDate(BaseModel):
    target: str = Field(examples=["draft_plan"])
    due_on: date
    basis: str
    statutory: bool = False


class TimescalesView(BaseModel):
    """Every statutory due date and derived target for a case with this Day 0."""

    received_on: date
    anchor: Anchor
    rule_version: str
    decision_to_assess: date
    no_plan_notice: date
    final_plan: date
    limits: list[DueDate]
    targets: list[TargetDate]


def timescales_view(received_on: date, anchor: Anchor = Anchor.REQUEST) -> TimescalesView:
    """Build the calculator's answer (raises ``statutory.NoRuleVersion`` before 2014-09-01)."""
    version = statutory.rule_version(received_on)
    ts = statutory.timescales(received_on, anchor)
    day0 = f"Day 0 ({anchor.value})"
    limits = [
        DueDate(
            limit=Limit.DECISION_TO_ASSESS,
            regulation=statutory.REGULATION[Limit.DECISION_TO_ASSESS],
            due_on=ts.decision_to_assess,
            counted_from=day0,
        ),
        DueDate(
            limit=Limit.ADVICE,
            regulation=statutory.REGULATION[Limit.ADVICE],
            due_on=ts.advice_if_requested_on_day0,
            counted_from="the date each adviser receives the request (shown: received on Day 0)",
        ),
        DueDate(
            limit=Limit.NO_PLAN_NOTICE,
            regulation=statutory.REGULATION[Limit.NO_PLAN_NOTICE],
            due_on=ts.no_plan_notice,
            counted_from=day0,
        ),
        DueDate(
            limit=Limit.FINAL_PLAN,
            regulation=statutory.REGULATION[Limit.FINAL_PLAN],
            due_on=ts.final_plan,
            counted_from=day0,
        ),
    ]
    targets = [TargetDate(target=t.name, due_on=t.due_on, basis=t.basis) for t in ts.targets]
    return TimescalesView(
        received_on=received_on,
        anchor=anchor,
        rule_version=version.name,
        decision_to_assess=ts.decision_to_assess,
        no_plan_notice=ts.no_plan_notice,
        final_plan=ts.final_plan,
        limits=limits,
        targets=targets,
    )
