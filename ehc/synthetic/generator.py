"""Synthetic caseloads calibrated on DfE's published figures, with their known answers.

``generate_cohort("North Tyneside", 2024, seed=7)`` draws a scaled-down year of cases for
that LA: the requests received in the year split as DfE published them (assess / not
assess / withdrawn / undecided, decided within 6 weeks or not), what became of the
assessments (plan, no plan within 16 weeks or not, withdrawn, still going), and the new
plans issued in the year (within 20 weeks, 20-52 weeks, over 52 weeks; with and without
exceptions), topped up with plans from requests of earlier years as real years are.

Each case is a ``CaseScript``: Day 0, the child's synthetic details and the API calls a
caseworker would make, each with its true (past) date. The generator labels every case
with what it drew (``request_band``, ``plan_band``, ...), and ``known_figures`` tallies
those labels into the figures the report must reproduce, without using the report's code.

Deterministic: the same LA, year, seed, size and prefix give the same cohort. Every
outcome appears at least once whatever the LA's figures (coverage beats calibration for
outcomes an LA reported as zero), and the first case of each band sits on its boundary
(a decision on day 42, a plan on day 140, 141, 364 and 365) to catch off-by-one errors.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from ehc import statutory
from ehc.synthetic.calibration import Calibration, load_calibration

PLAN_BANDS = ("within_20_weeks", "gt20weeks_ltYear", "gt_1_year")
CELLS: tuple[tuple[bool, str], ...] = tuple((ex, b) for ex in (False, True) for b in PLAN_BANDS)
# Agencies and teams advice is asked of: the teams of the shipped directory
# (config/teams.yaml); "other" has no team, so its requests carry none.
ADVISERS: tuple[tuple[str, str | None], ...] = (
    ("educational_psychology", "educational-psychology"),
    ("health", "community-paediatrics"),
    ("health", "camhs"),
    ("health", "therapies"),
    ("social_care", "childrens-disability"),
    ("education", "schools"),
    ("other", None),
)
ETHNICITIES = ("WBRI", "WOTH", "MWBC", "AIND", "APKN", "BAFR", "CHNE", "OOTH", "NOBT")
SETTINGS = ("OLA", "OPA", "EHE", "EYP", "OTH", "NIEO")
SEN_TYPES = ("ASD", "SEMH", "SLCN", "MLD", "SPLD", "PD")
# Share of assessments with advice requests recorded (each one starts a chasing workflow).
ADVICE_SHARE = 0.25
# Latest day an event of the cohort can fall on, after the end of its year.
HORIZON_DAYS = 600


def _basis(agency: str) -> str:
    """The advice report's ``basis``: reg 8 (statute) or CoP 9.41 (guidance), rules.md 8.4."""
    if agency == "all":
        return "mixed"
    return "statute" if statutory.advice_is_statutory(statutory.Agency(agency)) else "guidance"


@dataclass(frozen=True)
class AdviceScript:
    agency: str
    team: str | None
    requested_on: date
    adviser_received_on: date
    received_on: date | None
    band: str  # within_6_weeks | over_6_weeks | not_received

    @property
    def due_on(self) -> date:
        """Reg 8(1) from the body's receipt, CoP 9.41 from the request (rules.md 8.4)."""
        return statutory.advice_due_for(
            statutory.Agency(self.agency),
            requested_on=self.requested_on,
            received_on=self.adviser_received_on,
        )


@dataclass(frozen=True)
class ExceptionScript:
    kind: str
    starts_on: date
    ends_on: date | None = None


@dataclass(frozen=True)
class Step:
    """One API call: ``action`` names the endpoint, ``body`` is what is sent."""

    action: str
    on: date
    body: dict[str, Any]
    advice_index: int | None = None


_ORDER = {
    "decision-to-assess": 0,
    "advice-request": 1,
    "exception": 2,
    "advice-received": 3,
    "decision-to-issue": 4,
    "draft-plan": 5,
    "final-plan": 6,
    "withdrawal": 9,
}


@dataclass
class CaseScript:
    """One synthetic case: what happened, when, and the labels the generator drew."""

    case_ref: str
    received_on: date
    child: dict[str, Any]
    story: str
    assess: tuple[date, str] | None = None
    issue: tuple[date, str] | None = None
    draft_on: date | None = None
    final_on: date | None = None
    withdrawn_on: date | None = None
    exception: ExceptionScript | None = None
    advice: list[AdviceScript] = field(default_factory=list)
    request_band: str | None = None  # within_6_weeks | over_6_weeks (decided cases)
    plan_band: str | None = None  # one of PLAN_BANDS (issued plans)
    no_plan_band: str | None = None  # within_16_weeks | over_16_weeks

    @property
    def days_to_plan(self) -> int | None:
        return (self.final_on - self.received_on).days if self.final_on else None

    def create_body(self) -> dict[str, Any]:
        return {
            "case_ref": self.case_ref,
            "received_on": self.received_on.isoformat(),
            "requested_by": "parent",
            "child": self.child,
        }

    def steps(self) -> list[Step]:
        """The API calls in an order the workflow accepts: by date, decisions before what
        depends on them, the withdrawal last."""
        steps: list[Step] = []
        if self.assess:
            on, decision = self.assess
            steps.append(
                Step("decision-to-assess", on, {"decision": decision, "decided_on": on.isoformat()})
            )
        for i, advice in enumerate(self.advice):
            body: dict[str, Any] = {
                "agency": advice.agency,
                "requested_on": advice.requested_on.isoformat(),
                "received_on": advice.adviser_received_on.isoformat(),
            }
            if advice.team:
                body["team"] = advice.team
            steps.append(Step("advice-request", advice.requested_on, body, i))
            if advice.received_on:
                steps.append(
                    Step(
                        "advice-received",
                        advice.received_on,
                        {"received_on": advice.received_on.isoformat()},
                        i,
                    )
                )
        if self.exception:
            body = {
                "limit": "final_plan",
                "kind": self.exception.kind,
                "reason": "synthetic case",
                "starts_on": self.exception.starts_on.isoformat(),
            }
            if self.exception.ends_on:
                body["ends_on"] = self.exception.ends_on.isoformat()
            steps.append(Step("exception", self.exception.starts_on, body))
        if self.issue:
            on, decision = self.issue
            steps.append(
                Step("decision-to-issue", on, {"decision": decision, "decided_on": on.isoformat()})
            )
        if self.draft_on:
            steps.append(
                Step("draft-plan", self.draft_on, {"served_on": self.draft_on.isoformat()})
            )
        if self.final_on:
            steps.append(
                Step("final-plan", self.final_on, {"issued_on": self.final_on.isoformat()})
            )
        if self.withdrawn_on:
            steps.append(
                Step(
                    "withdrawal",
                    self.withdrawn_on,
                    {"withdrawn_on": self.withdrawn_on.isoformat(), "reason": "synthetic case"},
                )
            )
        return sorted(steps, key=lambda s: (_ORDER[s.action] == 9, s.on, _ORDER[s.action]))


@dataclass(frozen=True)
class KnownFigures:
    """What the report of the cohort's year must say, tallied from the generator's labels.
    Keys are the report's (DfE's) column names; ``advice`` is keyed by (level, agency,
    team); ``sen2`` counts what the return for the following collection year holds."""

    requests: dict[str, int | float | None]
    assessments: dict[str, int | float | None]
    timeliness_20_week: dict[str, int | float | None]
    advice: dict[tuple[str, str, str | None], dict[str, int | float | str | None]]
    sen2: dict[str, int]


@dataclass(frozen=True)
class Cohort:
    calibration: Calibration
    seed: int
    year: int
    scripts: list[CaseScript]
    known: KnownFigures

    def summary(self) -> str:
        cal = self.calibration
        return (
            f"{len(self.scripts)} synthetic cases for {cal.la_name} ({cal.old_la_code}) "
            f"{self.year}, seed {self.seed}: {self.known.requests['requests_received_in_year']}"
            f" requests received, {self.known.timeliness_20_week['plans_issued_den']} plans "
            "issued in the year"
        )


# --- drawing ---------------------------------------------------------------------------


def apportion(
    total: int, weights: dict[str, float], minimum: dict[str, int] | None = None
) -> dict[str, int]:
    """Split ``total`` by ``weights`` (largest remainders), then lift each key to its
    ``minimum`` by taking from the largest share."""
    minimum = minimum or {}
    keys = list(weights)
    whole = sum(weights.values())
    if whole <= 0:
        weights = {k: 1.0 for k in keys}
        whole = float(len(keys))
    raw = {k: total * weights[k] / whole for k in keys}
    counts = {k: int(raw[k]) for k in keys}
    rest = total - sum(counts.values())
    for k in sorted(keys, key=lambda k: (-(raw[k] - counts[k]), keys.index(k)))[:rest]:
        counts[k] += 1
    for k, least in minimum.items():
        while counts[k] < least:
            donor = max(keys, key=lambda d: counts[d] - minimum.get(d, 0))
            if counts[donor] - minimum.get(donor, 0) <= 0:
                counts[k] += 1  # nothing left to take: grow the total instead
                continue
            counts[donor] -= 1
            counts[k] += 1
    return counts


class _Draw:
    """Random draws with boundary cases first: the first draw for a key returns each of
    its ``edges`` in turn (when they fit), then uniform draws."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.edges: dict[str, list[int]] = {
            "request_within": [42],
            "request_over": [43],
            "no_plan_within": [112],
            "no_plan_over": [113],
            "within_20_weeks": [140],
            "gt20weeks_ltYear": [141, 364],
            "gt_1_year": [365],
            "advice_within": [42],
            "advice_over": [43],
        }

    def days(self, key: str, lo: int, hi: int) -> int:
        pending = self.edges.get(key, [])
        for edge in list(pending):
            if lo <= edge <= hi:
                pending.remove(edge)
                return edge
        return self.rng.randint(lo, hi)

    def day_in(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, max(0, (last - first).days)))


def _plan_days(draw: _Draw, band: str, assess_days: int) -> int:
    low = assess_days + 30
    if band == "within_20_weeks":
        return draw.days(band, max(84, low), 140)
    if band == "gt20weeks_ltYear":
        return draw.days(band, max(141, low), 364)
    return draw.days(band, 365, 480)


class _Builder:
    def __init__(self, cal: Calibration, seed: int, prefix: str) -> None:
        self.cal = cal
        # Deterministic synthetic data, not secrets: a seeded PRNG is the point.
        self.rng = random.Random(f"{cal.old_la_code}-{cal.year}-{seed}")  # noqa: S311
        self.draw = _Draw(self.rng)
        self.prefix = prefix
        self.scripts: list[CaseScript] = []
        self.start = date(cal.year, 1, 1)
        self.end = date(cal.year, 12, 31)

    # --- a case ---------------------------------------------------------------------

    def new_case(self, day0: date, story: str) -> CaseScript:
        n = len(self.scripts) + 1
        ref = f"{self.prefix}-{n:04d}"
        rng = self.rng
        child: dict[str, Any] = {
            "given_name": "Synthetic",
            "family_name": ref,
            "date_of_birth": (day0 - timedelta(days=rng.randint(3 * 365, 17 * 365))).isoformat(),
            "sex": rng.choice("MFU" if n % 40 == 0 else "MF"),
            "ethnicity": rng.choice(ETHNICITIES),
            "postcode": f"NE{rng.randint(1, 40)} {rng.randint(1, 9)}"
            f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            "setting": rng.choice(SETTINGS),
            "sen_type": rng.choice(SEN_TYPES),
            "sen_unit": rng.random() < 0.1,
        }
        which = n % 10
        if which < 7:
            child["upn"] = rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(
                rng.choice("0123456789") for _ in range(12)
            )
        elif which < 9:
            child["upn_unknown_reason"] = f"UN{rng.randint(1, 10)}"
        else:
            child["uln"] = "".join(rng.choice("0123456789") for _ in range(10))
        if rng.random() < 0.5:
            child["setting_urn"] = f"{rng.randint(100000, 999999)}"
        script = CaseScript(case_ref=ref, received_on=day0, child=child, story=story)
        self.scripts.append(script)
        return script

    def add_advice(self, case: CaseScript) -> None:
        """Advice requests sent after the decision to assess, before the next decision."""
        if case.assess is None or self.rng.random() >= ADVICE_SHARE:
            return
        first = case.assess[0]
        last = case.issue[0] if case.issue else first + timedelta(days=10)
        if case.withdrawn_on:
            last = min(last, case.withdrawn_on - timedelta(days=1))
        if last < first:
            return
        for _ in range(1 if self.rng.random() < 0.75 else 2):
            agency, team = self.rng.choice(ADVISERS)
            requested = self.draw.day_in(first, min(last, first + timedelta(days=5)))
            adviser = requested + timedelta(days=self.rng.randint(0, 2))
            # Reg 8(1) counts from the body's receipt, CoP 9.41 from the request (rules.md 8.4).
            start = statutory.advice_period_start(
                statutory.Agency(agency), requested_on=requested, received_on=adviser
            )
            roll = self.rng.random()
            received: date | None
            if roll < 0.6:
                band = "within_6_weeks"
                received = start + timedelta(days=self.draw.days("advice_within", 7, 42))
            elif roll < 0.85:
                band = "over_6_weeks"
                received = start + timedelta(days=self.draw.days("advice_over", 43, 80))
            else:
                band, received = "not_received", None
            if received and case.withdrawn_on and received > case.withdrawn_on:
                band, received = "not_received", None
            case.advice.append(AdviceScript(agency, team, requested, adviser, received, band))

    def issue_plan(self, case: CaseScript, assess_days: int, band: str, exception: bool) -> None:
        self.issue_plan_on(
            case, assess_days, _plan_days(self.draw, band, assess_days), band, exception
        )

    def issue_plan_on(
        self, case: CaseScript, assess_days: int, days: int, band: str, exception: bool
    ) -> None:
        """Decision to issue, draft 16 days before the final plan, final plan on day
        ``days``; an exception on the 20-week limit if ``exception``."""
        day0 = case.received_on
        case.issue = (day0 + timedelta(days=self.rng.randint(assess_days + 1, days - 16)), "issue")
        case.draft_on = day0 + timedelta(days=days - 16)
        case.final_on = day0 + timedelta(days=days)
        case.plan_band = band
        if not exception:
            return
        if len(self.scripts) % 3 == 0:
            case.exception = ExceptionScript(
                "absent_from_area", day0 + timedelta(days=20), day0 + timedelta(days=60)
            )
        else:
            starts = day0 + timedelta(days=self.rng.randint(14, min(60, days - 1)))
            case.exception = ExceptionScript("personal_circumstances", starts)

    # --- the year's requests ---------------------------------------------------------

    def requests(self, n: int) -> None:
        cal = self.cal
        codes = apportion(
            n,
            {
                "Y": cal.decided_to_assess,
                "N": cal.decided_not_to_assess,
                "W": cal.withdrawn,
                "A": cal.decision_not_made,
            },
            {"Y": 12, "N": 2, "W": 2, "A": 3},
        )
        timing = apportion(
            codes["Y"] + codes["N"],
            {
                "within_6_weeks": cal.outcome_six_weeks or 1,
                "over_6_weeks": cal.outcome_over_6_weeks,
            },
            {"within_6_weeks": 1, "over_6_weeks": 1},
        )
        bands = [b for b, k in timing.items() for _ in range(k)]
        self.rng.shuffle(bands)
        assessed = codes["Y"]
        paths = apportion(
            assessed,
            {
                "issue": cal.assess_issued,
                "not_issue": cal.assess_not_issued,
                "withdrawn": cal.assess_withdrawn,
                "ongoing": cal.assess_not_made,
            },
            {"issue": 6, "not_issue": 2, "withdrawn": 1, "ongoing": 1},
        )
        path_list = [p for p, k in paths.items() for _ in range(k)]
        self.rng.shuffle(path_list)
        not_issue = apportion(
            paths["not_issue"],
            {
                "within_16_weeks": cal.not_issue_within_time,
                "over_16_weeks": cal.not_issue_over_time,
            },
            {"within_16_weeks": 1, "over_16_weeks": 1},
        )
        no_plan_bands = [b for b, k in not_issue.items() for _ in range(k)]
        cells = apportion(paths["issue"], _cell_weights(cal))
        cell_list = [c for c, k in cells.items() for _ in range(k)]
        self.rng.shuffle(cell_list)

        for code in ["Y"] * codes["Y"] + ["N"] * codes["N"]:
            band = bands.pop()
            key = "request_within" if band == "within_6_weeks" else "request_over"
            a = (
                self.draw.days(key, 7, 42)
                if band == "within_6_weeks"
                else self.draw.days(key, 43, 90)
            )
            path = path_list.pop() if code == "Y" else "refused"
            # Days from Day 0 to the last event that must fall inside the year: the
            # decision, or the no-plan decision or withdrawal that ends an assessment (a
            # plan may be issued the next year, as real plans are).
            last = a
            if path == "not_issue":
                no_plan = no_plan_bands.pop()
                last = (
                    self.draw.days("no_plan_within", a + 7, 112)
                    if no_plan == "within_16_weeks"
                    else self.draw.days("no_plan_over", 113, 200)
                )
            elif path == "withdrawn":
                last = a + self.rng.randint(7, 60)
            day0 = self.draw.day_in(self.start, self.end - timedelta(days=last))
            case = self.new_case(day0, f"request {code}")
            case.request_band = band
            decided = day0 + timedelta(days=a)
            if code == "N":
                case.assess = (decided, "not_assess")
                continue
            case.assess = (decided, "assess")
            case.story += f" > {path}"
            if path == "issue":
                exception, plan_band = _unpack(cell_list.pop())
                self.issue_plan(case, a, plan_band, exception)
            elif path == "not_issue":
                case.issue = (day0 + timedelta(days=last), "not_issue")
                case.no_plan_band = no_plan
            elif path == "withdrawn":
                case.withdrawn_on = day0 + timedelta(days=last)
            self.add_advice(case)

        for _ in range(codes["W"]):
            w = self.rng.randint(3, 40)
            day0 = self.draw.day_in(self.start, self.end - timedelta(days=w))
            case = self.new_case(day0, "request W")
            case.withdrawn_on = day0 + timedelta(days=w)

        for i in range(codes["A"]):
            day0 = self.draw.day_in(self.end - timedelta(days=30), self.end)
            case = self.new_case(day0, "request A")
            later = self.end + timedelta(days=self.rng.randint(2, 12))
            if i % 3 == 1:
                case.assess = (later, "assess")
                case.story += " > assessed next year"
            elif i % 3 == 2:
                case.withdrawn_on = later
                case.story += " > withdrawn next year"

        rya = max(1, round(n * cal.requests_rya / cal.requests_received))
        for case in self.rng.sample(self.scripts, min(rya, len(self.scripts))):
            case.child["rya"] = True

    # --- plans of the year from earlier requests ------------------------------------------

    def earlier_plans(self, target: int) -> None:
        """Plans issued in the year from requests of earlier years: enough in each cell
        (exception or not, band) to bring the year's plans to the published shares, and
        at least one in every cell."""
        have: dict[tuple[bool, str], int] = defaultdict(int)
        for s in self.scripts:
            if s.final_on and self.start <= s.final_on <= self.end and s.plan_band:
                have[(s.exception is not None, s.plan_band)] += 1
        goal = apportion(target, _cell_weights(self.cal))
        wanted: dict[str, int] = {}
        for cell in CELLS:
            key = _key(cell)
            wanted[key] = max(goal[key] - have[cell], 0 if have[cell] else 1)
        for key, count in wanted.items():
            exception, band = _unpack(key)
            for _ in range(count):
                a = self.rng.randint(10, 42)
                days = _plan_days(self.draw, band, a)
                final = self.draw.day_in(
                    self.start, min(self.end, self.start + timedelta(days=days - 1))
                )
                case = self.new_case(final - timedelta(days=days), "earlier request > issue")
                case.request_band = "within_6_weeks"
                case.assess = (case.received_on + timedelta(days=a), "assess")
                self.issue_plan_on(case, a, days, band, exception)
                self.add_advice(case)


def _key(cell: tuple[bool, str]) -> str:
    return f"{'ex' if cell[0] else 'noex'}:{cell[1]}"


def _unpack(key: str) -> tuple[bool, str]:
    flag, band = key.split(":")
    return flag == "ex", band


def _cell_weights(cal: Calibration) -> dict[str, float]:
    """DfE's plans by exception flag and band (inconsistent published rows count as 0)."""
    weights = {
        _key((False, "within_20_weeks")): cal.plans_within_20_weeks_ex,
        _key((False, "gt20weeks_ltYear")): cal.plans_gt20weeks_ltyear_ex,
        _key((False, "gt_1_year")): cal.plans_gt_1_year_ex,
        _key((True, "within_20_weeks")): cal.plans_within_20_weeks - cal.plans_within_20_weeks_ex,
        _key((True, "gt20weeks_ltYear")): cal.plans_gt20weeks_ltyear
        - cal.plans_gt20weeks_ltyear_ex,
        _key((True, "gt_1_year")): cal.plans_gt_1_year - cal.plans_gt_1_year_ex,
    }
    return {k: float(max(0, v)) for k, v in weights.items()}


def generate_cohort(
    la: str,
    year: int,
    *,
    seed: int,
    cases: int = 220,
    ref_prefix: str = "SYN",
    data_dir: Path | None = None,
    today: date | None = None,
) -> Cohort:
    """About ``cases`` synthetic cases for ``la`` (DfE name or 3-digit code) whose figures
    for calendar ``year`` follow DfE's published shares, and those figures."""
    today = today or date.today()
    if date(year, 12, 31) + timedelta(days=HORIZON_DAYS) > today:
        raise ValueError(f"{year} is too recent: its cases' events must all be in the past")
    cal = load_calibration(la, year, data_dir)
    scale = cases / (cal.requests_received + 0.5 * cal.plans_den)
    builder = _Builder(cal, seed, ref_prefix)
    builder.requests(max(20, round(cal.requests_received * scale)))
    builder.earlier_plans(round(cal.plans_den * scale))
    return Cohort(cal, seed, year, builder.scripts, known_figures(builder.scripts, year))


# --- the known answers -------------------------------------------------------------------


def _pc(part: int, whole: int) -> float | None:
    """DfE's rounding: a double-precision ratio times 100, rounded half up to 0.1."""
    if whole == 0:
        return None
    return float(Decimal(part / whole * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _weeks(days: list[int]) -> float | None:
    if not days:
        return None
    value = (Decimal(sum(days)) / (7 * len(days))).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(value)


def _as_at(script: CaseScript, end: date) -> dict[str, Any]:
    """The script's decisions dated on or before ``end``."""

    def kept(pair: tuple[date, str] | None) -> tuple[date, str] | None:
        return pair if pair and pair[0] <= end else None

    return {
        "assess": kept(script.assess),
        "issue": kept(script.issue),
        "final": script.final_on if script.final_on and script.final_on <= end else None,
        "withdrawn": script.withdrawn_on
        if script.withdrawn_on and script.withdrawn_on <= end
        else None,
    }


def known_figures(scripts: list[CaseScript], year: int) -> KnownFigures:
    """The figures the timeliness report for ``year`` (and SEN2 ``year + 1``) must show."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    req: dict[str, int] = defaultdict(int)
    ass: dict[str, int] = defaultdict(int)
    plans: list[CaseScript] = []
    sen2: dict[str, int] = defaultdict(int)
    for s in scripts:
        at = _as_at(s, end)
        assess, issue, final, withdrawn = at["assess"], at["issue"], at["final"], at["withdrawn"]
        request_code = (
            "Y"
            if assess and assess[1] == "assess"
            else "N"
            if assess
            else "W"
            if withdrawn
            else "A"
        )
        if start <= s.received_on <= end:
            req["received"] += 1
            req[request_code] += 1
            req["rya"] += bool(s.child.get("rya"))
            if assess:
                req[s.request_band or "?"] += 1
        assessment_code = None
        if request_code == "Y":
            assessment_code = (
                "Y"
                if issue and issue[1] == "issue"
                else "N"
                if issue
                else "W"
                if withdrawn
                else "A"
            )
            outcome_on = issue[0] if issue else withdrawn
            if assessment_code == "A":
                ass["A"] += 1
            elif outcome_on and outcome_on >= start:
                ass[assessment_code] += 1
                if assessment_code == "N":
                    ass[s.no_plan_band or "?"] += 1
        if final and final >= start:
            plans.append(s)
        closed = (
            withdrawn
            or (assess[0] if assess and assess[1] == "not_assess" else None)
            or (issue[0] if issue and issue[1] == "not_issue" else None)
            or final
        )
        if s.received_on <= end and (closed is None or closed >= start):
            sen2["persons"] += 1
            sen2[f"RequestOutcome_{request_code}"] += 1
            if assessment_code:
                sen2[f"AssessmentOutcome_{assessment_code}"] += 1
                if assessment_code == "Y":
                    sen2[f"Week20_{int(s.exception is not None)}"] += 1
            if final:
                sen2["NamedPlan"] += 1

    n = req["received"]
    w6, o6 = req["within_6_weeks"], req["over_6_weeks"]
    requests: dict[str, int | float | None] = {
        "requests_received_in_year": n,
        "requests_rya": req["rya"],
        "requests_decided_to_assess": req["Y"],
        "requests_decided_not_to_assess": req["N"],
        "requests_decision_not_made": req["A"],
        "requests_withdrawn": req["W"],
        "request_assess_pc": _pc(req["Y"], n),
        "request_not_assess_pc": _pc(req["N"], n),
        "request_outstanding_pc": _pc(req["A"], n),
        "request_withdrawn_pc": _pc(req["W"], n),
        "request_outcome_six_weeks": w6,
        "request_outcome_over_6_weeks": o6,
        "request_outcome_six_weeks_pc": _pc(w6, w6 + o6),
        "request_outcome_over_6_weeks_pc": _pc(o6, w6 + o6),
    }
    total = ass["Y"] + ass["N"] + ass["A"] + ass["W"]
    w16, o16 = ass["within_16_weeks"], ass["over_16_weeks"]
    assessments: dict[str, int | float | None] = {
        "assess_in_year": total,
        "assess_issued": ass["Y"],
        "assess_issued_pc": _pc(ass["Y"], total),
        "assess_not_issued": ass["N"],
        "assess_not_issued_pc": _pc(ass["N"], total),
        "assess_not_made": ass["A"],
        "assess_not_made_pc": _pc(ass["A"], total),
        "assess_withdrawn": ass["W"],
        "assess_withdrawn_pc": _pc(ass["W"], total),
        "outcome_decision_within_time": w16,
        "outcome_decision_over_time": o16,
        "outcome_decision_within_time_pc": _pc(w16, w16 + o16),
        "outcome_decision_over_time_pc": _pc(o16, w16 + o16),
    }
    plans_ex = [s for s in plans if s.exception is None]

    def count(group: list[CaseScript], band: str) -> int:
        return sum(1 for s in group if s.plan_band == band)

    den, den_ex = len(plans), len(plans_ex)
    timeliness: dict[str, int | float | None] = {
        "plans_issued_den": den,
        "plans_issued_den_ex": den_ex,
        "plans_issued_within_20_weeks": count(plans, "within_20_weeks"),
        "plans_issued_20_weeks_ex": count(plans_ex, "within_20_weeks"),
        "pc_plans_issued_within_20_weeks": _pc(count(plans, "within_20_weeks"), den),
        "PC_plans_issued_20_weeks_ex": _pc(count(plans_ex, "within_20_weeks"), den_ex),
        "plans_issued_gt20weeks_ltYear": count(plans, "gt20weeks_ltYear"),
        "plans_issued_gt20weeks_ltYear_ex": count(plans_ex, "gt20weeks_ltYear"),
        "pc_plans_issued_gt20weeks_ltYear": _pc(count(plans, "gt20weeks_ltYear"), den),
        "PC_plans_issued_gt20weeks_ltYear_ex": _pc(count(plans_ex, "gt20weeks_ltYear"), den_ex),
        "plans_issued_gt_1_year": count(plans, "gt_1_year"),
        "plans_issued_gt_1_year_ex": count(plans_ex, "gt_1_year"),
        "pc_plans_issued_gt_1_year": _pc(count(plans, "gt_1_year"), den),
        "PC_plans_issued_gt_1_year_ex": _pc(count(plans_ex, "gt_1_year"), den_ex),
        "avg_weeks_issue_plan": _weeks([s.days_to_plan or 0 for s in plans]),
        "avg_weeks_issue_plan_exc": _weeks([s.days_to_plan or 0 for s in plans_ex]),
    }
    return KnownFigures(
        requests, assessments, timeliness, _advice_known(scripts, start, end), dict(sen2)
    )


def _advice_known(
    scripts: list[CaseScript], start: date, end: date
) -> dict[tuple[str, str, str | None], dict[str, int | float | str | None]]:
    tallies: dict[tuple[str, str, str | None], dict[str, int]] = defaultdict(
        lambda: defaultdict(int)
    )
    for s in scripts:
        for a in s.advice:
            if a.requested_on > end:
                continue
            got = a.received_on if a.received_on and a.received_on <= end else None
            lapsed = (
                a.received_on is None and s.withdrawn_on is not None and s.withdrawn_on <= a.due_on
            )
            for key in (
                ("team", a.agency, a.team),
                ("agency", a.agency, None),
                ("all", "all", None),
            ):
                t = tallies[key]
                t["advice_requested"] += start <= a.requested_on <= end
                if got and got >= start:
                    t["advice_received"] += 1
                    t["advice_received_within_6_weeks"] += a.band == "within_6_weeks"
                t["advice_overdue_at_end"] += got is None and a.due_on <= end and not lapsed
    known: dict[tuple[str, str, str | None], dict[str, int | float | str | None]] = {}
    for key, t in tallies.items():
        received, within = t["advice_received"], t["advice_received_within_6_weeks"]
        known[key] = {
            "basis": _basis(key[1]),
            "advice_requested": t["advice_requested"],
            "advice_received": received,
            "advice_received_within_6_weeks": within,
            "advice_received_over_6_weeks": received - within,
            "pc_advice_received_within_6_weeks": _pc(within, received),
            "advice_overdue_at_end": t["advice_overdue_at_end"],
        }
    if not known:
        known[("all", "all", None)] = {
            "basis": "mixed",
            "advice_requested": 0,
            "advice_received": 0,
            "advice_received_within_6_weeks": 0,
            "advice_received_over_6_weeks": 0,
            "pc_advice_received_within_6_weeks": None,
            "advice_overdue_at_end": 0,
        }
    return known
