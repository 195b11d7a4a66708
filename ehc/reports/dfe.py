"""DfE's published column names and conventions for EHC plan statistics.

The column lists are those of the underlying data files of DfE's "Education, health and
care plans" release (reporting year 2025): ``requests.csv``, ``assessments.csv`` and
``timeliness_20_week.csv``, spelled exactly as DfE spells them (including the odd
capitals of ``PC_plans_issued_20_weeks_ex`` and the typo ``number_asssess_...``), so a
report row can be laid beside the published row for the same LA and year.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

GEOGRAPHY_COLUMNS: tuple[str, ...] = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "new_la_code",
    "old_la_code",
    "la_name",
    "breakdown_topic",
    "breakdown",
)

# Published columns the engine does not track (mediation and tribunals): "x" in CSV. They
# end the requests and assessments files.
_REQUESTS_UNAVAILABLE: tuple[str, ...] = (
    "mediation_related_request",
    "tribunal_related_request",
    "tribunal_after_mediation_request",
)
_ASSESSMENTS_UNAVAILABLE: tuple[str, ...] = (
    "number_assess_mediation",
    "number_assess_tribunal",
    "number_asssess_mediation_tribunal",
    "number_other_mediation",
    "number_other_tribunal",
    "number_other_mediation_tribunal",
)
UNAVAILABLE_COLUMNS: frozenset[str] = frozenset(_REQUESTS_UNAVAILABLE + _ASSESSMENTS_UNAVAILABLE)

REQUESTS_COLUMNS: tuple[str, ...] = (
    "requests_received_in_year",
    "requests_rya",
    "requests_decided_to_assess",
    "requests_decided_not_to_assess",
    "requests_decision_not_made",
    "requests_withdrawn",
    "request_assess_pc",
    "request_not_assess_pc",
    "request_outstanding_pc",
    "request_withdrawn_pc",
    "request_outcome_six_weeks",
    "request_outcome_over_6_weeks",
    "request_outcome_six_weeks_pc",
    "request_outcome_over_6_weeks_pc",
    *_REQUESTS_UNAVAILABLE,
)

ASSESSMENTS_COLUMNS: tuple[str, ...] = (
    "assess_in_year",
    "assess_issued",
    "assess_issued_pc",
    "assess_not_issued",
    "assess_not_issued_pc",
    "assess_not_made",
    "assess_not_made_pc",
    "assess_withdrawn",
    "assess_withdrawn_pc",
    "outcome_decision_within_time",
    "outcome_decision_over_time",
    "outcome_decision_within_time_pc",
    "outcome_decision_over_time_pc",
    *_ASSESSMENTS_UNAVAILABLE,
)

TIMELINESS_COLUMNS: tuple[str, ...] = (
    "plans_issued_den",
    "plans_issued_den_ex",
    "plans_issued_within_20_weeks",
    "plans_issued_20_weeks_ex",
    "pc_plans_issued_within_20_weeks",
    "PC_plans_issued_20_weeks_ex",
    "plans_issued_gt20weeks_ltYear",
    "plans_issued_gt20weeks_ltYear_ex",
    "pc_plans_issued_gt20weeks_ltYear",
    "PC_plans_issued_gt20weeks_ltYear_ex",
    "plans_issued_gt_1_year",
    "plans_issued_gt_1_year_ex",
    "pc_plans_issued_gt_1_year",
    "PC_plans_issued_gt_1_year_ex",
)

# Not in the published file: the engine adds them after DfE's columns (names from the
# EES indicator list, statutory-research.md section 8.1).
TIMELINESS_EXTRA_COLUMNS: tuple[str, ...] = ("avg_weeks_issue_plan", "avg_weeks_issue_plan_exc")

BREAKDOWN: dict[str, str] = {
    "requests": "All requests for EHC needs assessments",
    "assessments": "All EHC needs assessments",
    "timeliness_20_week": "All EHC plans issued",
}

# DfE's symbols: "x" unavailable, "z" not applicable (here: a percentage of nothing).
UNAVAILABLE = "x"
NOT_APPLICABLE = "z"

_TENTH = Decimal("0.1")


def percent(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole`` to one decimal place, as DfE computes them:
    ``part / whole * 100`` in double precision, then rounded half up. This reproduces every
    one of the 165,861 outcome and band percentages published in ``requests.csv``,
    ``assessments.csv`` and ``timeliness_20_week.csv`` (219 of 266 -> 82.3; 153 of 240 ->
    63.7, because 63.75 in binary is a hair under); exact decimal arithmetic would
    disagree on a few rows.
    ``None`` when ``whole`` is 0."""
    if whole == 0:
        return None
    return float(Decimal(part / whole * 100).quantize(_TENTH, ROUND_HALF_UP))


def mean_weeks(days: list[int]) -> float | None:
    """The mean of ``days`` in weeks to one decimal place (halves up); ``None`` if empty."""
    if not days:
        return None
    weeks = Decimal(sum(days)) / Decimal(7 * len(days))
    return float(weeks.quantize(_TENTH, ROUND_HALF_UP))
