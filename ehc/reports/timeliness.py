"""The timeliness report: DfE's measures of requests, assessments and new plans, for any
period, named as DfE names them, plus advice received within 6 weeks by agency and team.

Every figure describes the period *as at its last day*: events dated after ``end`` are
ignored, whenever they were entered, so the report for a past year does not change when it
is run again (unless someone back-dates an event into that year). The definitions, with
the reading taken where DfE's wording leaves room, are in ``docs/reports.md``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from ehc import measures, statutory
from ehc.reports import dfe
from ehc.reports.la_codes import LocalAuthority, local_authority
from ehc.reports.outcomes import CaseOutcome, outcome_as_at
from ehc.store.report_queries import AdviceRecord, CaseRecord

Section = Literal["requests", "assessments", "timeliness_20_week", "advice"]
SECTIONS: tuple[Section, ...] = ("requests", "assessments", "timeliness_20_week", "advice")

Count = int
Percent = float | None
Unavailable = int | None


class RequestsSection(BaseModel):
    """Requests for an EHC needs assessment received in the period (``requests.csv``)."""

    requests_received_in_year: Count = Field(description="Requests received in the period")
    requests_rya: Count = Field(
        description="Of those, child in relevant youth accommodation (child.rya)"
    )
    requests_decided_to_assess: Count = Field(description="LA decided to assess (SEN2 Y)")
    requests_decided_not_to_assess: Count = Field(description="LA decided not to assess (N)")
    requests_decision_not_made: Count = Field(description="No decision by the period's end (A)")
    requests_withdrawn: Count = Field(description="Withdrawn before a decision (W)")
    request_assess_pc: Percent
    request_not_assess_pc: Percent
    request_outstanding_pc: Percent
    request_withdrawn_pc: Percent
    request_outcome_six_weeks: Count = Field(
        description="Decisions (assess or not) notified within 6 weeks of Day 0 (Regs 4(1), 5(1))"
    )
    request_outcome_over_6_weeks: Count = Field(description="Decisions made after 6 weeks")
    request_outcome_six_weeks_pc: Percent = Field(description="% of decisions made")
    request_outcome_over_6_weeks_pc: Percent
    mediation_related_request: Unavailable = Field(default=None, description="Not tracked (x)")
    tribunal_related_request: Unavailable = Field(default=None, description="Not tracked (x)")
    tribunal_after_mediation_request: Unavailable = Field(
        default=None, description="Not tracked (x)"
    )


class AssessmentsSection(BaseModel):
    """EHC needs assessments whose outcome fell in the period, and those still undecided at
    its end (``assessments.csv``)."""

    assess_in_year: Count = Field(description="issued + not issued + not made + withdrawn")
    assess_issued: Count = Field(description="Decision to issue a plan made in the period")
    assess_issued_pc: Percent
    assess_not_issued: Count = Field(description="Decision not to issue made in the period")
    assess_not_issued_pc: Percent
    assess_not_made: Count = Field(description="Assessing, no decision by the period's end")
    assess_not_made_pc: Percent
    assess_withdrawn: Count = Field(description="Withdrawn in the period while assessing")
    assess_withdrawn_pc: Percent
    outcome_decision_within_time: Count = Field(
        description="Decisions not to issue notified within 16 weeks of Day 0 (Reg 10(1))"
    )
    outcome_decision_over_time: Count = Field(description="... made after 16 weeks")
    outcome_decision_within_time_pc: Percent
    outcome_decision_over_time_pc: Percent
    number_assess_mediation: Unavailable = None
    number_assess_tribunal: Unavailable = None
    number_asssess_mediation_tribunal: Unavailable = None
    number_other_mediation: Unavailable = None
    number_other_tribunal: Unavailable = None
    number_other_mediation_tribunal: Unavailable = None


class TimelinessSection(BaseModel):
    """New EHC plans issued in the period (``timeliness_20_week.csv``). ``_ex`` columns
    leave out exception cases as at the period's end (SEN2 ``Week20`` = 1;
    ``ehc.measures.exception_case_as_at``)."""

    plans_issued_den: Count = Field(description="New plans issued (final plan) in the period")
    plans_issued_den_ex: Count = Field(description="... excluding exception cases")
    plans_issued_within_20_weeks: Count = Field(description="On or before Day 0 + 20 weeks")
    plans_issued_20_weeks_ex: Count
    pc_plans_issued_within_20_weeks: Percent
    PC_plans_issued_20_weeks_ex: Percent
    plans_issued_gt20weeks_ltYear: Count = Field(description="After 20 weeks, up to 52 weeks")
    plans_issued_gt20weeks_ltYear_ex: Count
    pc_plans_issued_gt20weeks_ltYear: Percent
    PC_plans_issued_gt20weeks_ltYear_ex: Percent
    plans_issued_gt_1_year: Count = Field(description="After 52 weeks")
    plans_issued_gt_1_year_ex: Count
    pc_plans_issued_gt_1_year: Percent
    PC_plans_issued_gt_1_year_ex: Percent
    avg_weeks_issue_plan: float | None = Field(description="Mean weeks from Day 0 to the plan")
    avg_weeks_issue_plan_exc: float | None


Basis = Literal["statute", "guidance", "mixed"]


def advice_basis(agency: str) -> Basis:
    """Reg 8(1) binds health and other s.31 bodies; CoP 9.41 everyone else (rules.md 8.4)."""
    if agency == "all":
        return "mixed"
    return "statute" if statutory.advice_is_statutory(statutory.Agency(agency)) else "guidance"


class AdviceRow(BaseModel):
    """Advice (Reg 8(1), CoP 9.41) by agency and team; ``level`` says which total a row is."""

    level: Literal["team", "agency", "all"]
    agency: str
    team: str | None
    basis: Basis = Field(
        description="statute: reg 8 bodies (health); guidance: CoP 9.41 (everyone else, "
        "timed from the request); mixed: the grand total (rules.md 8.4)"
    )
    advice_requested: Count = Field(description="Advice requests sent in the period")
    advice_received: Count = Field(description="Advice received in the period")
    advice_received_within_6_weeks: Count = Field(
        description="... on or before the due date: 6 weeks from the body's receipt (reg 8) "
        "or from the request (CoP 9.41)"
    )
    advice_received_over_6_weeks: Count
    pc_advice_received_within_6_weeks: Percent
    advice_overdue_at_end: Count = Field(
        description="Due on or before the period's end and not received by then"
    )


class ReportArea(BaseModel):
    old_la_code: str
    new_la_code: str = ""
    la_name: str = ""
    region_code: str = ""
    region_name: str = ""


class TimelinessReport(BaseModel):
    period_start: date
    period_end: date
    as_at: date = Field(description="Figures describe the period as at this date")
    time_period: str
    time_identifier: str
    area: ReportArea | None
    requests: RequestsSection
    assessments: AssessmentsSection
    timeliness_20_week: TimelinessSection
    advice: list[AdviceRow]
    unavailable: list[str] = Field(
        default_factory=lambda: sorted(dfe.UNAVAILABLE_COLUMNS),
        description="Published columns the engine does not track (null here, x in CSV)",
    )
    definitions: str = "docs/reports.md"


# --- building ------------------------------------------------------------------------


def _requests(
    outcomes: list[CaseOutcome], extras: dict[str, dict[str, Any]], start: date, end: date
) -> RequestsSection:
    received = [o for o in outcomes if start <= o.received_on <= end]
    by_code: dict[str, int] = defaultdict(int)
    for o in received:
        by_code[o.request_outcome] += 1
    within = sum(1 for o in received if o.decided_within_6_weeks is True)
    over = sum(1 for o in received if o.decided_within_6_weeks is False)
    rya = sum(1 for o in received if _truthy(extras.get(o.case_ref, {}).get("rya")))
    n = len(received)
    return RequestsSection(
        requests_received_in_year=n,
        requests_rya=rya,
        requests_decided_to_assess=by_code["Y"],
        requests_decided_not_to_assess=by_code["N"],
        requests_decision_not_made=by_code["A"],
        requests_withdrawn=by_code["W"],
        request_assess_pc=dfe.percent(by_code["Y"], n),
        request_not_assess_pc=dfe.percent(by_code["N"], n),
        request_outstanding_pc=dfe.percent(by_code["A"], n),
        request_withdrawn_pc=dfe.percent(by_code["W"], n),
        request_outcome_six_weeks=within,
        request_outcome_over_6_weeks=over,
        request_outcome_six_weeks_pc=dfe.percent(within, within + over),
        request_outcome_over_6_weeks_pc=dfe.percent(over, within + over),
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "y", "yes"}


def _assessments(outcomes: list[CaseOutcome], start: date, end: date) -> AssessmentsSection:
    counts: dict[str, int] = defaultdict(int)
    within = over = 0
    for o in outcomes:
        outcome = o.assessment_outcome
        if outcome is None or o.assess_on is None or o.assess_on > end:
            continue
        if outcome == "A":
            counts["A"] += 1
            continue
        on = o.assessment_outcome_on
        if on is None or not start <= on <= end:
            continue
        counts[outcome] += 1
        if outcome == "N":
            if o.no_plan_within_16_weeks:
                within += 1
            else:
                over += 1
    n = counts["Y"] + counts["N"] + counts["A"] + counts["W"]
    return AssessmentsSection(
        assess_in_year=n,
        assess_issued=counts["Y"],
        assess_issued_pc=dfe.percent(counts["Y"], n),
        assess_not_issued=counts["N"],
        assess_not_issued_pc=dfe.percent(counts["N"], n),
        assess_not_made=counts["A"],
        assess_not_made_pc=dfe.percent(counts["A"], n),
        assess_withdrawn=counts["W"],
        assess_withdrawn_pc=dfe.percent(counts["W"], n),
        outcome_decision_within_time=within,
        outcome_decision_over_time=over,
        outcome_decision_within_time_pc=dfe.percent(within, within + over),
        outcome_decision_over_time_pc=dfe.percent(over, within + over),
    )


def _timeliness(outcomes: list[CaseOutcome], start: date, end: date) -> TimelinessSection:
    plans = [o for o in outcomes if o.final_plan_on is not None and start <= o.final_plan_on <= end]
    plans_ex = [o for o in plans if not o.week20_exception]
    counts = measures.week20_counts(
        ((o.received_on, o.final_plan_on, o.week20_exception) for o in plans if o.final_plan_on),
        start=start,
        end=end,
    )

    def band(group: list[CaseOutcome], name: str) -> int:
        return sum(1 for o in group if o.band == name)

    den, den_ex = counts.issued, counts.issued_ex
    w, w_ex = counts.within, counts.within_ex
    m, m_ex = band(plans, "gt20weeks_ltYear"), band(plans_ex, "gt20weeks_ltYear")
    y, y_ex = band(plans, "gt_1_year"), band(plans_ex, "gt_1_year")
    return TimelinessSection(
        plans_issued_den=den,
        plans_issued_den_ex=den_ex,
        plans_issued_within_20_weeks=w,
        plans_issued_20_weeks_ex=w_ex,
        pc_plans_issued_within_20_weeks=dfe.percent(w, den),
        PC_plans_issued_20_weeks_ex=dfe.percent(w_ex, den_ex),
        plans_issued_gt20weeks_ltYear=m,
        plans_issued_gt20weeks_ltYear_ex=m_ex,
        pc_plans_issued_gt20weeks_ltYear=dfe.percent(m, den),
        PC_plans_issued_gt20weeks_ltYear_ex=dfe.percent(m_ex, den_ex),
        plans_issued_gt_1_year=y,
        plans_issued_gt_1_year_ex=y_ex,
        pc_plans_issued_gt_1_year=dfe.percent(y, den),
        PC_plans_issued_gt_1_year_ex=dfe.percent(y_ex, den_ex),
        avg_weeks_issue_plan=dfe.mean_weeks([o.days_to_plan or 0 for o in plans]),
        avg_weeks_issue_plan_exc=dfe.mean_weeks([o.days_to_plan or 0 for o in plans_ex]),
    )


def _advice_row(
    level: Literal["team", "agency", "all"],
    agency: str,
    team: str | None,
    rows: Iterable[AdviceRecord],
    start: date,
    end: date,
) -> AdviceRow:
    requested = received = within = overdue = 0
    for a in rows:
        got = a.advice_received_on if a.advice_received_on and a.advice_received_on <= end else None
        if start <= a.requested_on <= end:
            requested += 1
        if got is not None and got >= start:
            received += 1
            within += got <= a.due_on
        if got is None and a.due_on <= end and a.status != "not_applicable":
            overdue += 1
    return AdviceRow(
        level=level,
        agency=agency,
        team=team,
        basis=advice_basis(agency),
        advice_requested=requested,
        advice_received=received,
        advice_received_within_6_weeks=within,
        advice_received_over_6_weeks=received - within,
        pc_advice_received_within_6_weeks=dfe.percent(within, received),
        advice_overdue_at_end=overdue,
    )


def advice_rows(advice: list[AdviceRecord], start: date, end: date) -> list[AdviceRow]:
    """One row per agency and team, a total per agency, and a grand total; only agencies
    and teams with something in or open at the period are listed."""
    by_agency: dict[str, dict[str | None, list[AdviceRecord]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for a in advice:
        by_agency[a.agency][a.team].append(a)
    rows: list[AdviceRow] = []
    for agency in sorted(by_agency):
        teams = by_agency[agency]
        for team in sorted(teams, key=lambda t: (t is None, t or "")):
            rows.append(_advice_row("team", agency, team, teams[team], start, end))
        everyone = [a for group in teams.values() for a in group]
        rows.append(_advice_row("agency", agency, None, everyone, start, end))
    rows.append(_advice_row("all", "all", None, advice, start, end))
    return rows


def period_label(start: date, end: date) -> tuple[str, str]:
    """DfE's ``time_period`` and ``time_identifier`` for the period."""
    if start == date(start.year, 1, 1) and end == date(start.year, 12, 31):
        return str(start.year), "Calendar year"
    return f"{start.isoformat()}/{end.isoformat()}", "Custom period"


def area_for(la_code: str | None) -> ReportArea | None:
    if not la_code:
        return None
    known: LocalAuthority | None = local_authority(la_code)
    if known is None:
        return ReportArea(old_la_code=la_code)
    return ReportArea(**known._asdict())


def build_report(
    cases: list[CaseRecord],
    extras: dict[str, dict[str, Any]],
    advice: list[AdviceRecord],
    *,
    start: date,
    end: date,
    la_code: str | None = None,
) -> TimelinessReport:
    """The report for ``start``..``end`` (inclusive) from the store's records."""
    if end < start:
        raise ValueError("the period ends before it starts")
    outcomes = [outcome_as_at(case, end) for case in cases if case.received_on <= end]
    time_period, identifier = period_label(start, end)
    return TimelinessReport(
        period_start=start,
        period_end=end,
        as_at=end,
        time_period=time_period,
        time_identifier=identifier,
        area=area_for(la_code),
        requests=_requests(outcomes, extras, start, end),
        assessments=_assessments(outcomes, start, end),
        timeliness_20_week=_timeliness(outcomes, start, end),
        advice=advice_rows(advice, start, end),
    )


# --- CSV -------------------------------------------------------------------------------

_SECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "requests": dfe.REQUESTS_COLUMNS,
    "assessments": dfe.ASSESSMENTS_COLUMNS,
    "timeliness_20_week": dfe.TIMELINESS_COLUMNS + dfe.TIMELINESS_EXTRA_COLUMNS,
}
ADVICE_COLUMNS: tuple[str, ...] = tuple(AdviceRow.model_fields)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return dfe.UNAVAILABLE if column in dfe.UNAVAILABLE_COLUMNS else dfe.NOT_APPLICABLE
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _geography(report: TimelinessReport, breakdown: str) -> list[str]:
    area = report.area or ReportArea(old_la_code="")
    return [
        report.time_period,
        report.time_identifier,
        "Local authority",
        "E92000001",
        "England",
        area.region_code,
        area.region_name,
        area.new_la_code,
        area.old_la_code,
        area.la_name,
        breakdown,
        breakdown,
    ]


def to_csv(report: TimelinessReport, section: Section = "timeliness_20_week") -> str:
    """One section as CSV. ``requests``, ``assessments`` and ``timeliness_20_week`` have
    the published file's header, in its order (the 20-week section adds the two average
    columns at the end); ``x`` marks a column not tracked, ``z`` a percentage of nothing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if section == "advice":
        writer.writerow(["time_period", "time_identifier", "old_la_code", *ADVICE_COLUMNS])
        code = report.area.old_la_code if report.area else ""
        for row in report.advice:
            values = row.model_dump()
            values["team"] = values["team"] or ""
            writer.writerow(
                [
                    report.time_period,
                    report.time_identifier,
                    code,
                    *(_cell(c, values[c]) for c in ADVICE_COLUMNS),
                ]
            )
        return out.getvalue()
    columns = _SECTION_COLUMNS[section]
    values = getattr(report, section).model_dump()
    writer.writerow([*dfe.GEOGRAPHY_COLUMNS, *columns])
    writer.writerow(
        [*_geography(report, dfe.BREAKDOWN[section]), *(_cell(c, values[c]) for c in columns)]
    )
    return out.getvalue()
