"""The statutory clock for EHC needs assessments, as pure functions.

No I/O and no wall clock: "today" is always an argument. The readings taken here are
recorded in ``shared/domain/rules.md``; the evidence and worked examples W1-W13 are in
``statutory-research.md``.

Abbreviations used in docstrings: Regs = Special Educational Needs and Disability
Regulations 2014 (SI 2014/1530); CoP = SEND Code of Practice 0-25 (2015); CFA = Children
and Families Act 2014.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class Anchor(StrEnum):
    """What Day 0 is.

    CFA s.36(1): the LA *received a request* for an EHC needs assessment; or CFA s.24:
    the LA *became responsible* for the child (the child was brought to its attention).
    Regs 4(1), 5(1), 10(1) and 13(2) count from either.
    """

    REQUEST = "request"
    BROUGHT_TO_ATTENTION = "brought_to_attention"


class Limit(StrEnum):
    """The limits tracked for every assessment (rules.md section 2)."""

    DECISION_TO_ASSESS = "decision_to_assess"
    ADVICE = "advice"
    NO_PLAN_NOTICE = "no_plan_notice"
    DRAFT_REPRESENTATIONS = "draft_representations"
    FINAL_PLAN = "final_plan"
    SCHOOL_CONSULTATION = "school_consultation"


class LimitStatus(StrEnum):
    PENDING = "pending"
    MET = "met"
    BREACHED = "breached"
    EXCEPTION = "exception"
    NOT_APPLICABLE = "not_applicable"


class Agency(StrEnum):
    """Who is asked for advice under Regs 6(1)(a)-(h)."""

    HEALTH = "health"
    SOCIAL_CARE = "social_care"
    EDUCATIONAL_PSYCHOLOGY = "educational_psychology"
    EDUCATION = "education"
    PARENT = "parent"
    PREPARING_FOR_ADULTHOOD = "preparing_for_adulthood"
    OTHER = "other"


class ExceptionKind(StrEnum):
    """Lawful reasons why a limit need not be complied with (rules.md section 3)."""

    SCHOOL_CLOSURE = "school_closure"
    EARLY_YEARS_CLOSURE = "early_years_closure"
    PERSONAL_CIRCUMSTANCES = "personal_circumstances"
    ABSENT_FROM_AREA = "absent_from_area"
    MISSED_APPOINTMENT = "missed_appointment"
    CORONAVIRUS = "coronavirus"


REGULATION: dict[Limit, str] = {
    Limit.DECISION_TO_ASSESS: "SEND Regs 2014 reg 5(1) (reg 4(1) for a refusal)",
    Limit.ADVICE: "SEND Regs 2014 reg 8(1); SEND Code of Practice 9.41",
    Limit.NO_PLAN_NOTICE: "SEND Regs 2014 reg 10(1)",
    Limit.DRAFT_REPRESENTATIONS: "SEND Regs 2014 reg 13(1)",
    Limit.FINAL_PLAN: "SEND Regs 2014 reg 13(2)",
    Limit.SCHOOL_CONSULTATION: "CFA 2014 s.39/s.40 (guidance, not statute)",
}

STATUTORY: dict[Limit, bool] = {
    Limit.DECISION_TO_ASSESS: True,
    Limit.ADVICE: True,
    Limit.NO_PLAN_NOTICE: True,
    Limit.DRAFT_REPRESENTATIONS: True,
    Limit.FINAL_PLAN: True,
    Limit.SCHOOL_CONSULTATION: False,
}

# Bodies under the CFA s.31 duty to co-operate, bound by Reg 8(1); the rest by CoP 9.41.
REG8_AGENCIES = frozenset({Agency.HEALTH})


def advice_is_statutory(agency: Agency) -> bool:
    """Reg 8(1) binds only bodies under the CFA s.31 duty to co-operate (health and other
    s.31 bodies); advice from schools, educational psychology and the council's own social
    care is asked under CoP 9.41, which is guidance (rules.md 8.4)."""
    return agency in REG8_AGENCIES


# --- counting -------------------------------------------------------------------------


def within_weeks(start: date, weeks: int) -> date:
    """Last day of "within N weeks of D": ``D + 7N`` days, the same weekday (rules.md 1).

    The wording of Regs 4(1), 5(1), 8(1), 10(1) and 13(2). The day of the event is
    excluded (research section 9, item 1); an act on or before the returned date is on
    time.
    """
    return start + timedelta(weeks=weeks)


def period_beginning_with(start: date, days: int) -> date:
    """Last day of "at least N days beginning with the day on which X was served".

    Reg 13(1) counts the service day as day 1, so the period ends on ``served + N - 1``
    (research section 9, item 2).
    """
    return start + timedelta(days=days - 1)


def decision_to_assess_due(day0: date) -> date:
    """Regs 4(1) and 5(1): notice of the decision whether to assess within 6 weeks."""
    return within_weeks(day0, 6)


def no_plan_notice_due(day0: date) -> date:
    """Reg 10(1): notice that no plan will be issued within 16 weeks of Day 0."""
    return within_weeks(day0, 16)


def final_plan_due(day0: date) -> date:
    """Reg 13(2): the finalised plan sent within 20 weeks of Day 0 (CoP 9.40)."""
    return within_weeks(day0, 20)


def advice_due(adviser_received_on: date) -> date:
    """Reg 8(1) (s.31 bodies) and CoP 9.41 (everyone else): advice within 6 weeks.

    Counted from the date the *adviser received* the LA's request, not from Day 0.
    """
    return within_weeks(adviser_received_on, 6)


def advice_period_start(agency: Agency, *, requested_on: date, received_on: date) -> date:
    """When an advice request's 6 weeks start (rules.md 8.4).

    Reg 8(1): a s.31 body must comply "within 6 weeks of the date on which they receive"
    the request. CoP 9.41: everyone else responds "within a maximum of 6 weeks from the
    date of the request".
    """
    return received_on if advice_is_statutory(agency) else requested_on


def advice_due_for(agency: Agency, *, requested_on: date, received_on: date) -> date:
    """Reg 8(1) from the body's receipt; CoP 9.41 from the LA's request (rules.md 8.4)."""
    return advice_due(
        advice_period_start(agency, requested_on=requested_on, received_on=received_on)
    )


def representations_end(draft_served_on: date) -> date:
    """Reg 13(1): the family has at least 15 days beginning with the day of service."""
    return period_beginning_with(draft_served_on, 15)


def earliest_finalisation(draft_served_on: date) -> date:
    """Reg 13(1): the first day the LA may finalise without the family's say-so."""
    return representations_end(draft_served_on) + timedelta(days=1)


def school_consultation_due(consultation_sent_on: date) -> date:
    """CFA s.39/s.40 consultation with a school or college: 15 days is guidance only."""
    return consultation_sent_on + timedelta(days=15)


def regulation_for_advice(agency: Agency) -> str:
    """Reg 8(1) binds health and other s.31 bodies; CoP 9.41 binds every other adviser."""
    if agency in REG8_AGENCIES:
        return "SEND Regs 2014 reg 8(1)"
    return "SEND Code of Practice 9.41"


# --- Day 0 and the calculator --------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A derived, non-statutory target: shown to caseworkers, never reported as a breach."""

    name: str
    due_on: date
    basis: str


@dataclass(frozen=True)
class Timescales:
    """Every statutory due date and derived target for a case with a given Day 0."""

    received_on: date
    anchor: Anchor
    decision_to_assess: date
    no_plan_notice: date
    final_plan: date
    advice_if_requested_on_day0: date
    targets: tuple[Target, ...]


def timescales(received_on: date, anchor: Anchor = Anchor.REQUEST) -> Timescales:
    """All due dates from Day 0 (CFA s.36(1) or s.24; Regs 4, 5, 10, 13; CoP 9.41).

    Derived targets (rules.md section 2): advice requests sent by week 7 (so advice can
    return by week 13), draft plan by week 14 (IPSEA guidance) and the latest draft
    service date that still leaves the 15 days of Reg 13(1) before week 20.
    """
    final = final_plan_due(received_on)
    targets = (
        Target("advice_requests_sent", within_weeks(received_on, 7), "local target, week 7"),
        Target("draft_plan", within_weeks(received_on, 14), "IPSEA guidance, week 14"),
        Target(
            "latest_draft_service",
            final - timedelta(days=15),
            "leaves the 15 days of reg 13(1) before the 20-week limit",
        ),
    )
    return Timescales(
        received_on=received_on,
        anchor=anchor,
        decision_to_assess=decision_to_assess_due(received_on),
        no_plan_notice=no_plan_notice_due(received_on),
        final_plan=final,
        advice_if_requested_on_day0=advice_due(received_on),
        targets=targets,
    )


# --- status of a limit ----------------------------------------------------------------


def limit_status(
    *,
    due_on: date,
    met_on: date | None,
    today: date,
    applicable: bool = True,
    excused: bool = False,
) -> LimitStatus:
    """Where a limit stands on ``today``.

    A deadline passes at the end of its due date (rules.md 1): met on the due date is
    ``met``, the day after is late. A limit that passed unmet, or was met late, is
    ``exception`` where a valid exception covers it and ``breached`` otherwise (Regs
    5(4), 8(2), 10(4), 13(3) say the LA "need not comply"; the date never moves).
    """
    if not applicable:
        return LimitStatus.NOT_APPLICABLE
    if met_on is not None and met_on <= due_on:
        return LimitStatus.MET
    if met_on is None and today <= due_on:
        return LimitStatus.PENDING
    return LimitStatus.EXCEPTION if excused else LimitStatus.BREACHED


# --- rule versions ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleVersion:
    """A dated version of the rules (rules.md section 4)."""

    name: str
    starts_on: date
    ends_on: date | None
    coronavirus_exception: bool
    source: str


RULE_VERSIONS: tuple[RuleVersion, ...] = (
    RuleVersion("v2014", date(2014, 9, 1), date(2020, 4, 30), False, "SI 2014/1530 as made"),
    RuleVersion(
        "v2020cv",
        date(2020, 5, 1),
        date(2020, 9, 25),
        True,
        "SI 2014/1530 as amended by SI 2020/471",
    ),
    RuleVersion("v2020post", date(2020, 9, 26), None, False, "SI 2014/1530, SI 2020/471 expired"),
)


class NoRuleVersion(ValueError):
    """The date falls before the SEND Regulations 2014 came into force."""


def rule_version(on: date) -> RuleVersion:
    """The version of the rules in force on ``on``; a case keeps the version its dates fall
    under (SI 2014/1530 in force 1 September 2014; SI 2020/471 from 1 May to 25 September
    2020 inclusive)."""
    for version in RULE_VERSIONS:
        if version.starts_on <= on and (version.ends_on is None or on <= version.ends_on):
            return version
    raise NoRuleVersion(
        f"{on.isoformat()} is before 1 September 2014, when the SEND Regulations came into force"
    )


# --- exceptions ------------------------------------------------------------------------

MIN_CLOSURE_DAYS = 28
MIN_ABSENCE_DAYS = 28
CLOSURE_WINDOW_OFFSET = timedelta(days=7)

_CLOSURES = (ExceptionKind.SCHOOL_CLOSURE, ExceptionKind.EARLY_YEARS_CLOSURE)
_GENERAL = (ExceptionKind.PERSONAL_CIRCUMSTANCES, ExceptionKind.ABSENT_FROM_AREA)

# Which exception kinds each limit admits (rules.md section 3). The refusal notice of
# Reg 4(1) has only the coronavirus exception of Reg 4(3): see ``allowed_kinds``.
# Reg 5(4) has three limbs and no early-years one: see ``REG_5_4_LIMBS``.
ALLOWED_KINDS: dict[Limit, frozenset[ExceptionKind]] = {
    Limit.DECISION_TO_ASSESS: frozenset(
        {ExceptionKind.SCHOOL_CLOSURE, *_GENERAL, ExceptionKind.CORONAVIRUS}
    ),
    Limit.ADVICE: frozenset(
        {*_GENERAL, ExceptionKind.MISSED_APPOINTMENT, ExceptionKind.CORONAVIRUS}
    ),
    Limit.NO_PLAN_NOTICE: frozenset({*_CLOSURES, *_GENERAL, ExceptionKind.CORONAVIRUS}),
    Limit.FINAL_PLAN: frozenset({*_CLOSURES, *_GENERAL, ExceptionKind.CORONAVIRUS}),
    Limit.DRAFT_REPRESENTATIONS: frozenset(),
    Limit.SCHOOL_CONSULTATION: frozenset(),
}

_REFUSAL_KINDS = frozenset({ExceptionKind.CORONAVIRUS})

# The limb letters of each exception list (rules.md 8.6).
#
# Reg 5(4), read at legislation.gov.uk/uksi/2014/1530/regulation/5 (revised text): "The
# local authority need not comply with the time limit referred to in paragraph (1) if it
# is impractical to do so because-- (a) the local authority has requested advice from the
# head teacher or principal of a school or post-16 institution during a period beginning
# one week before any date on which that school or institution was closed for a continuous
# period of n[ot less than 4 weeks ...]". The stored copy ends there. Our reading, taken
# by rules.md 8.6 and matching the SI as we recall it: (b) exceptional personal
# circumstances and (c) absence from the area for at least 4 continuous weeks, both
# "during that time period", with no early-years limb (reg 10(4)(b) has one). So
# ``early_years_closure`` is refused on the decision whether to assess.
REG_5_4_LIMBS: dict[ExceptionKind, str] = {
    ExceptionKind.SCHOOL_CLOSURE: "a",
    ExceptionKind.PERSONAL_CIRCUMSTANCES: "b",
    ExceptionKind.ABSENT_FROM_AREA: "c",
}
# Reg 10(4), imported into reg 13(2) by reg 13(3).
REG_10_4_LIMBS: dict[ExceptionKind, str] = {
    ExceptionKind.SCHOOL_CLOSURE: "a",
    ExceptionKind.EARLY_YEARS_CLOSURE: "b",
    ExceptionKind.PERSONAL_CIRCUMSTANCES: "c",
    ExceptionKind.ABSENT_FROM_AREA: "d",
}
# Reg 8(2), for bodies under reg 8 only.
REG_8_2_LIMBS: dict[ExceptionKind, str] = {
    ExceptionKind.PERSONAL_CIRCUMSTANCES: "a",
    ExceptionKind.ABSENT_FROM_AREA: "b",
    ExceptionKind.MISSED_APPOINTMENT: "c",
}
# The regulation's own words on when each circumstance must arise.
_PERIOD_WORDS: dict[Limit, str] = {
    Limit.DECISION_TO_ASSESS: "during that time period",
    Limit.ADVICE: "during that 6 week period",
    Limit.NO_PLAN_NOTICE: "during that time period",
    Limit.FINAL_PLAN: "during that time period",
}

_CITATION: dict[Limit, str] = {
    Limit.DECISION_TO_ASSESS: "reg 5(4)",
    Limit.ADVICE: "reg 8(2)",
    Limit.NO_PLAN_NOTICE: "reg 10(4)",
    Limit.FINAL_PLAN: "reg 13(3)",
    Limit.DRAFT_REPRESENTATIONS: "reg 13(1)",
    Limit.SCHOOL_CONSULTATION: "CFA s.39/s.40",
}


def allowed_kinds(limit: Limit, *, refusal: bool = False) -> frozenset[ExceptionKind]:
    """Exception kinds the law allows on ``limit``.

    A refusal to assess falls under Reg 4(1), which has no exception but the coronavirus
    one of Reg 4(3) (research section 9, item 6: the conservative reading).
    """
    if limit is Limit.DECISION_TO_ASSESS and refusal:
        return _REFUSAL_KINDS
    return ALLOWED_KINDS[limit]


@dataclass(frozen=True)
class Closure:
    """An institution's closure, for Regs 5(4)(a), 10(4)(a)/(b) and 13(3)."""

    closed_on: date
    reopens_on: date
    advice_requested_on: date


@dataclass(frozen=True)
class ExceptionClaim:
    """A caseworker's claim that a lawful exception excuses a limit."""

    limit: Limit
    kind: ExceptionKind
    starts_on: date | None = None
    ends_on: date | None = None
    closure: Closure | None = None


class ExceptionRefused(ValueError):
    """The law does not allow this exception; ``rule`` names the rule that refuses it."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


def closure_window(closure: Closure) -> tuple[date, date]:
    """Regs 5(4)(a), 10(4)(a)/(b): from one week before the closure to one week before the
    institution re-opens, inclusive (research section 2, closure-window algorithm)."""
    return closure.closed_on - CLOSURE_WINDOW_OFFSET, closure.reopens_on - CLOSURE_WINDOW_OFFSET


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date) -> int:
    """How many calendar days two inclusive date ranges share."""
    start, end = max(a_start, b_start), min(a_end, b_end)
    return max(0, (end - start).days + 1)


def validate_exception(
    claim: ExceptionClaim,
    *,
    period_starts_on: date,
    due_on: date,
    refusal: bool = False,
    today: date | None = None,
    reg8_body: bool = True,
) -> None:
    """Refuse, with a reason a caseworker understands, an exception the law does not allow.

    ``period_starts_on``..``due_on`` is the limit's own period: Day 0 to the due date for
    Regs 5, 10 and 13, the adviser's receipt to the due date for Reg 8 (the request to the
    due date for CoP 9.41 advice). Regs 5(4), 8(2) and 10(4) require the circumstance to
    arise "during that time period" (reg 8(2): "during that 6 week period"); for a closure
    the request for advice must fall both in the closure window and in the period (rules.md
    8.1). With ``today``, dates that have not happened yet are refused (a planned
    re-opening date may lie ahead). The missed-appointment exception is reg 8(2)(c)'s and
    applies only to bodies under reg 8 (``reg8_body``). Accepting an exception never
    changes ``due_on``.
    """
    _check_kind(claim, refusal=refusal)
    if claim.kind is ExceptionKind.MISSED_APPOINTMENT and not reg8_body:
        raise ExceptionRefused(
            "reg 8(2)(c)",
            "The missed appointment exception applies only to health and other bodies under "
            "regulation 8; this advice is asked under the Code of Practice (9.41, 9.42).",
        )
    if today is not None:
        _check_not_future(claim, today)
    if claim.kind in _CLOSURES:
        _check_closure(claim)
        assert claim.closure is not None
        _check_in_period(
            claim,
            claim.closure.advice_requested_on,
            claim.closure.advice_requested_on,
            period_starts_on=period_starts_on,
            due_on=due_on,
            what="The request for the institution's advice",
        )
    elif claim.kind is ExceptionKind.ABSENT_FROM_AREA:
        _check_absence(claim, period_starts_on=period_starts_on, due_on=due_on)
    elif claim.kind is ExceptionKind.CORONAVIRUS:
        _check_coronavirus(claim, due_on=due_on)
    elif claim.kind is ExceptionKind.MISSED_APPOINTMENT:
        _check_within_period(claim, period_starts_on=period_starts_on, due_on=due_on)
    elif claim.kind is ExceptionKind.PERSONAL_CIRCUMSTANCES:
        _check_circumstances(claim, period_starts_on=period_starts_on, due_on=due_on)


def limb(limit: Limit, kind: ExceptionKind) -> str:
    """The citation of the limb that governs ``kind`` on ``limit``: Reg 5(4)(a)-(c) for the
    decision whether to assess, Reg 8(2)(a)-(c) for advice, Reg 10(4)(a)-(d) for the
    no-plan notice, and Reg 13(3), which imports Reg 10(4)(a)-(d), for the final plan."""
    if limit is Limit.DECISION_TO_ASSESS:
        letter = REG_5_4_LIMBS.get(kind)
        return f"reg 5(4)({letter})" if letter else "reg 5(4)"
    if limit is Limit.ADVICE:
        letter = REG_8_2_LIMBS.get(kind)
        return f"reg 8(2)({letter})" if letter else "reg 8(2)"
    letter = REG_10_4_LIMBS.get(kind)
    base = f"reg 10(4)({letter})" if letter else "reg 10(4)"
    return f"reg 13(3) with {base}" if limit is Limit.FINAL_PLAN else base


def _rule(claim: ExceptionClaim) -> str:
    if claim.kind is ExceptionKind.CORONAVIRUS:
        return "SI 2020/471"
    return limb(claim.limit, claim.kind)


def _check_not_future(claim: ExceptionClaim, today: date) -> None:
    dates = [("start", claim.starts_on), ("end", claim.ends_on)]
    if claim.closure is not None:
        dates += [
            ("closure date", claim.closure.closed_on),
            ("date advice was requested", claim.closure.advice_requested_on),
        ]
    for what, on in dates:
        if on is not None and on > today:
            raise ExceptionRefused(
                _rule(claim),
                f"The exception's {what} ({on.isoformat()}) is in the future; an exception "
                "can only be recorded for circumstances that have arisen.",
            )


def _check_in_period(
    claim: ExceptionClaim,
    starts_on: date,
    ends_on: date,
    *,
    period_starts_on: date,
    due_on: date,
    what: str,
) -> None:
    """Rules.md 8.1: the circumstance must overlap the limit's period."""
    if overlap_days(starts_on, ends_on, period_starts_on, due_on) > 0:
        return
    rule = _rule(claim)
    when = (
        starts_on.isoformat()
        if starts_on == ends_on
        else f"{starts_on.isoformat()} to {ends_on.isoformat()}"
    )
    raise ExceptionRefused(
        rule,
        f"{what} ({when}) does not fall within the {_words(claim.limit)} period "
        f"{period_starts_on.isoformat()} to {due_on.isoformat()}; {rule} allows the "
        f"exception only where the circumstance arises {_PERIOD_WORDS[claim.limit]}.",
    )


def _check_circumstances(claim: ExceptionClaim, *, period_starts_on: date, due_on: date) -> None:
    if claim.starts_on is None:
        raise ExceptionRefused(
            _rule(claim),
            "Exceptional personal circumstances need the date they began, so that they can "
            "be checked against the limit's period.",
        )
    _check_dates_ordered(claim, _rule(claim))
    _check_in_period(
        claim,
        claim.starts_on,
        claim.ends_on or claim.starts_on,
        period_starts_on=period_starts_on,
        due_on=due_on,
        what="The personal circumstances",
    )


def _check_kind(claim: ExceptionClaim, *, refusal: bool) -> None:
    if claim.kind in allowed_kinds(claim.limit, refusal=refusal):
        return
    if claim.limit is Limit.DECISION_TO_ASSESS and refusal:
        raise ExceptionRefused(
            "reg 4(1)",
            "A notice refusing to assess has no exceptions under regulation 4(1), except the "
            "2020 coronavirus exception.",
        )
    if not ALLOWED_KINDS[claim.limit]:
        raise ExceptionRefused(
            _CITATION[claim.limit],
            f"The {_words(claim.limit)} period has no lawful exceptions "
            f"({_CITATION[claim.limit]}).",
        )
    allowed = ", ".join(sorted(_words(k) for k in ALLOWED_KINDS[claim.limit]))
    raise ExceptionRefused(
        _CITATION[claim.limit],
        f"The {_words(claim.kind)} exception does not apply to the {_words(claim.limit)} "
        f"limit under {_CITATION[claim.limit]}; the exceptions allowed there are: {allowed}.",
    )


def _words(value: StrEnum) -> str:
    """An enum value as words for a caseworker: ``final_plan`` -> ``final plan``."""
    return value.value.replace("_", " ")


def _check_closure(claim: ExceptionClaim) -> None:
    rule = _rule(claim)
    closure = claim.closure
    if closure is None:
        raise ExceptionRefused(
            rule,
            "A closure exception needs the institution's closure date, re-opening date and "
            "the date its advice was requested.",
        )
    length = (closure.reopens_on - closure.closed_on).days
    if length < MIN_CLOSURE_DAYS:
        raise ExceptionRefused(
            rule,
            f"The institution was closed for {max(length, 0)} days; the exception needs a "
            f"continuous closure of at least {MIN_CLOSURE_DAYS} days (4 weeks).",
        )
    opens, closes = closure_window(closure)
    if not opens <= closure.advice_requested_on <= closes:
        raise ExceptionRefused(
            rule,
            f"Advice was requested on {closure.advice_requested_on.isoformat()}, outside the "
            f"window {opens.isoformat()} to {closes.isoformat()} (from one week before the "
            "closure to one week before re-opening).",
        )


def _check_absence(claim: ExceptionClaim, *, period_starts_on: date, due_on: date) -> None:
    rule = _rule(claim)
    if claim.starts_on is None or claim.ends_on is None:
        raise ExceptionRefused(rule, "An absence from the area needs its first and last day.")
    _check_dates_ordered(claim, rule)
    inside = overlap_days(claim.starts_on, claim.ends_on, period_starts_on, due_on)
    if inside < MIN_ABSENCE_DAYS:
        raise ExceptionRefused(
            rule,
            f"Only {inside} days of the absence fall between {period_starts_on.isoformat()} "
            f"and {due_on.isoformat()}; the exception needs at least {MIN_ABSENCE_DAYS} "
            f"continuous days (4 weeks) inside the limit's period ({rule}: "
            f"{_PERIOD_WORDS[claim.limit]}).",
        )


def _check_coronavirus(claim: ExceptionClaim, *, due_on: date) -> None:
    if not rule_version_allows_coronavirus(due_on):
        raise ExceptionRefused(
            "SI 2020/471",
            f"The coronavirus exception applies only to limits falling due from 1 May to "
            f"25 September 2020; this limit fell due on {due_on.isoformat()}.",
        )


def _check_within_period(claim: ExceptionClaim, *, period_starts_on: date, due_on: date) -> None:
    rule = "reg 8(2)(c)"
    if claim.starts_on is None:
        raise ExceptionRefused(rule, "A missed appointment needs the date of the appointment.")
    if not period_starts_on <= claim.starts_on <= due_on:
        raise ExceptionRefused(
            rule,
            f"The appointment on {claim.starts_on.isoformat()} was not within the 6-week "
            f"period {period_starts_on.isoformat()} to {due_on.isoformat()}.",
        )


def _check_dates_ordered(claim: ExceptionClaim, rule: str) -> None:
    if claim.starts_on and claim.ends_on and claim.ends_on < claim.starts_on:
        raise ExceptionRefused(rule, "The exception ends before it starts.")


def rule_version_allows_coronavirus(due_on: date) -> bool:
    """SI 2020/471: the coronavirus exception exists only for limits due 1 May-25 Sep 2020."""
    try:
        return rule_version(due_on).coronavirus_exception
    except NoRuleVersion:
        return False


# --- the Europe/London day ------------------------------------------------------------
# Deadlines pass at the end of the due date in Europe/London (rules.md 1). Workflows must
# not build ZoneInfo objects (temporal-notes.md), so UK civil time is computed here from
# the Summer Time Order 2002: BST from 01:00 UTC on the last Sunday of March to 01:00 UTC
# on the last Sunday of October. Tests compare it with the tz database. The rule is also
# exported as data, so the store's SQL (ehc.store.metrics_queries) is built from it.

BST_STARTS_MONTH = 3  # the last Sunday of March ...
BST_ENDS_MONTH = 10  # ... to the last Sunday of October
BST_CHANGES_AT_UTC = time(1)  # both changes happen at 01:00 UTC
BST_OFFSET = timedelta(hours=1)


def _last_sunday(year: int, month: int) -> date:
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def _bst_bounds(year: int) -> tuple[datetime, datetime]:
    starts = datetime.combine(_last_sunday(year, BST_STARTS_MONTH), BST_CHANGES_AT_UTC, UTC)
    ends = datetime.combine(_last_sunday(year, BST_ENDS_MONTH), BST_CHANGES_AT_UTC, UTC)
    return starts, ends


class NaiveDatetime(ValueError):
    """A time without a time zone: refused, never read as the host's local time."""


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise NaiveDatetime(
            "A time without a time zone cannot be placed on the calendar in England; "
            "send it with its offset (for example 2024-09-02T09:00:00+01:00)."
        )
    return instant.astimezone(UTC)


def london_offset(instant: datetime) -> timedelta:
    """UK civil time's offset from UTC at an aware instant (a naive one is refused)."""
    utc = _aware(instant)
    starts, ends = _bst_bounds(utc.year)
    return BST_OFFSET if starts <= utc < ends else timedelta(0)


def london_date(instant: datetime) -> date:
    """The calendar date in England at an aware instant (rules.md 8.7: a naive one is
    refused with ``NaiveDatetime``, never read as the host's local time)."""
    utc = _aware(instant)
    return (utc + london_offset(utc)).date()


def end_of_london_day(day: date) -> datetime:
    """The aware UTC instant at which ``day`` ends in England (midnight that follows it)."""
    midnight = datetime.combine(day + timedelta(days=1), time(0), UTC)
    # Local midnight is UTC midnight minus the offset in force just before it.
    return midnight - london_offset(midnight - timedelta(hours=2))
