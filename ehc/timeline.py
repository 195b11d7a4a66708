"""The picture of a case's 20 weeks, as a pure function of its case view and today.

``timeline`` turns a ``CaseView`` into lanes of bars and marks placed on a horizontal axis
(SVG user units, ``WIDTH`` wide) and a text alternative that says the same in words. A
template draws it; nothing here knows about HTML. No I/O, no clock: today is an argument.

The axis runs from Day 0 to the final plan's due date (SEND Regs 2014 reg 13(2): 20 weeks),
and further when a date to show (today, a late plan, a late advice) falls after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ehc.models import CaseView, EventKind, LimitView
from ehc.statutory import Limit, LimitStatus

WIDTH = 1000
LABEL_WIDTH = 250
PLOT_LEFT = LABEL_WIDTH + 10
PLOT_RIGHT = WIDTH - 20
AXIS_HEIGHT = 44
LANE_HEIGHT = 32

LIMIT_NAMES: dict[Limit, str] = {
    Limit.DECISION_TO_ASSESS: "Decision whether to assess",
    Limit.ADVICE: "Advice",
    Limit.NO_PLAN_NOTICE: "Notice of no plan",
    Limit.DRAFT_REPRESENTATIONS: "Representations on the draft",
    Limit.FINAL_PLAN: "Final plan",
    Limit.SCHOOL_CONSULTATION: "School consultation",
}

AGENCY_NAMES: dict[str, str] = {
    "health": "Health",
    "social_care": "Social care",
    "educational_psychology": "Educational psychology",
    "education": "Education",
    "parent": "Parent",
    "preparing_for_adulthood": "Preparing for adulthood",
}

STATUS_WORDS: dict[LimitStatus, str] = {
    LimitStatus.PENDING: "pending",
    LimitStatus.MET: "met",
    LimitStatus.BREACHED: "breached",
    LimitStatus.EXCEPTION: "exception applies",
    LimitStatus.NOT_APPLICABLE: "not applicable",
}


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Mark:
    """A date on a lane: a due date, the date it was met, an answer, an exception."""

    x: float
    kind: str  # "due", "met", "late", "exception"
    on: date
    label: str


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    status: str  # a LimitStatus value; the template colours by it
    bar_start: float
    bar_end: float
    marks: list[Mark] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: float
    plot_right: float
    axis_y: float
    today_x: float | None
    today_label: str
    ticks: list[Tick]
    lanes: list[Lane]
    summary: str
    sentences: list[str]


def _day(on: date) -> str:
    return f"{on.day} {on:%b %Y}"


def _week(day0: date, on: date) -> int:
    return (on - day0).days // 7


def _limit_start(view: CaseView, lim: LimitView) -> date:
    """When the period of a limit begins."""
    if lim.limit is Limit.ADVICE:
        advice = next((a for a in view.advice_requests if a.id == lim.advice_id), None)
        return advice.received_by_adviser_on if advice else view.received_on
    if lim.limit is Limit.DRAFT_REPRESENTATIONS:
        served = [e.occurred_on for e in view.events if e.kind == EventKind.DRAFT_PLAN_SERVED]
        return served[-1] if served else lim.due_on - timedelta(days=14)
    return view.received_on


def _label(view: CaseView, lim: LimitView) -> str:
    if lim.limit is Limit.ADVICE:
        advice = next((a for a in view.advice_requests if a.id == lim.advice_id), None)
        if advice is not None:
            return f"Advice: {AGENCY_NAMES.get(advice.agency.value, advice.agency.value)}"
    return LIMIT_NAMES.get(lim.limit, lim.limit.value)


def _sentence(view: CaseView, lim: LimitView, label: str, today: date) -> str:
    start = _limit_start(view, lim)
    parts = [f"{label}: from {_day(start)}, due {_day(lim.due_on)}"]
    if lim.met_on is not None:
        parts.append(f"met {_day(lim.met_on)}")
    status = STATUS_WORDS.get(lim.status, lim.status.value)
    if lim.status is LimitStatus.BREACHED:
        late_to = lim.met_on or today
        late = (late_to - lim.due_on).days
        if lim.met_on is None:
            late = max(late, 1)
        status = f"breached, {late} day{'s' if late != 1 else ''} late"
    elif lim.status is LimitStatus.PENDING:
        left = (lim.due_on - today).days
        if left >= 0:
            status = f"pending, {left} day{'s' if left != 1 else ''} left"
        else:  # the no-plan limit waits for the decision past its date (rules.md 8.3)
            status = f"pending, {-left} day{'s' if left != -1 else ''} past its date"
    if lim.limit is Limit.ADVICE:
        advice = next((a for a in view.advice_requests if a.id == lim.advice_id), None)
        if advice is not None and advice.advice_received_on is None:
            parts.append(f"no answer yet ({advice.outcome.value.replace('_', ' ')})")
    if lim.exceptions:
        parts.append(f"{len(lim.exceptions)} exception(s) recorded")
    return ", ".join(parts) + f": {status}."


def timeline(view: CaseView, today: date) -> Timeline:
    """The case's weeks as lanes on an axis, with a text alternative saying the same."""
    day0 = view.received_on
    lims = [lim for lim in view.limits if lim.status is not LimitStatus.NOT_APPLICABLE]
    final = next((lim for lim in view.limits if lim.limit is Limit.FINAL_PLAN), None)
    end = final.due_on if final else day0 + timedelta(weeks=20)
    shown = [today] + [lim.due_on for lim in lims] + [lim.met_on for lim in lims if lim.met_on]
    end = max([end, *shown])
    end = max(end, day0 + timedelta(days=7))
    span = (end - day0).days or 1

    def x(on: date) -> float:
        days = min(max((on - day0).days, 0), span)
        return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * days / span, 1)

    weeks = span // 7
    step = 1 if weeks <= 24 else 2 if weeks <= 48 else 4
    ticks = [Tick(x(day0 + timedelta(weeks=w)), f"{w}") for w in range(0, weeks + 1, step)]

    order = {lim: i for i, lim in enumerate(Limit)}
    lims.sort(key=lambda lim: (lim.due_on, order[lim.limit]))
    lanes: list[Lane] = []
    sentences = [
        f"Day 0 (request received) was {_day(day0)}; the final plan is due "
        f"{_day(final.due_on) if final else _day(day0 + timedelta(weeks=20))} (week 20)."
    ]
    for i, lim in enumerate(lims):
        label = _label(view, lim)
        start = _limit_start(view, lim)
        marks = [Mark(x(lim.due_on), "due", lim.due_on, f"{label} due {_day(lim.due_on)}")]
        if lim.met_on is not None:
            kind = "late" if lim.met_on > lim.due_on else "met"
            marks.append(Mark(x(lim.met_on), kind, lim.met_on, f"met {_day(lim.met_on)}"))
        for exc in view.exceptions:
            if exc.id in lim.exceptions:
                on = exc.starts_on or lim.due_on
                marks.append(Mark(x(on), "exception", on, f"exception ({exc.kind.value})"))
        bar_end = lim.met_on if lim.met_on is not None else max(lim.due_on, today)
        if lim.status is not LimitStatus.BREACHED and lim.met_on is None:
            bar_end = lim.due_on
        lanes.append(
            Lane(
                y=AXIS_HEIGHT + i * LANE_HEIGHT,
                label=label,
                status=lim.status.value,
                bar_start=x(start),
                bar_end=max(x(bar_end), x(start) + 2),
                marks=marks,
            )
        )
        sentences.append(_sentence(view, lim, label, today))

    in_range = day0 <= today
    week_today = _week(day0, today)
    today_label = f"Today, {_day(today)} (week {week_today})"
    sentences.insert(1, f"Today is {_day(today)}, week {week_today} of the case.")
    breached = [lane.label for lane in lanes if lane.status == LimitStatus.BREACHED.value]
    summary = (
        f"Timeline of case {view.case_ref} from {_day(day0)} to {_day(end)}: "
        f"{len(lanes)} limits shown"
        + (f"; breached: {', '.join(breached)}" if breached else "; none breached")
        + "."
    )
    return Timeline(
        width=WIDTH,
        height=AXIS_HEIGHT + max(len(lanes), 1) * LANE_HEIGHT + 24,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_RIGHT,
        axis_y=AXIS_HEIGHT - 14,
        today_x=x(today) if in_range else None,
        today_label=today_label,
        ticks=ticks,
        lanes=lanes,
        summary=summary,
        sentences=sentences,
    )
