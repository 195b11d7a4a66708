"""The SEN2 person-level return (XML), built from the case store and checked against the
schema before anything is handed out.

``--year`` is the *collection year* as DfE names the return: SEN2 2025 is made in January
2025 and covers the requests active in calendar year 2024, as they stood on 31 December
2024 (events dated later are ignored). Its reference date is the third Thursday of
January of the collection year (18 January 2024, 16 January 2025).

Each request becomes one ``Person`` with one ``Requests`` module:

- ``ReceivedDate``: Day 0; ``RYA`` if ``child.rya`` was sent.
- ``RequestOutcome``: Y (decided to assess), N (decided not to), W (withdrawn before a
  decision), A (no decision yet); ``RequestOutcomeDate``: the decision (or withdrawal) date.
- ``Assessment`` (when the request outcome is Y): ``AssessmentOutcome`` Y (decision to
  issue a plan), N (decision not to), W (withdrawn while assessing), A (not yet decided);
  ``AssessmentOutcomeDate``: that decision (or withdrawal) date; ``Week20`` (outcome Y
  only): 1 for an exception case as at the reference date
  (``ehc.measures.exception_case_as_at``), else 0.
- ``NamedPlan`` (once the final plan is issued): ``StartDate`` = the date the final plan
  was issued; one ``PlanDetail`` with the setting sent as ``child.setting`` (and URN or
  UKPRN if sent), placement rank 1.

A case that cannot be exported is left out and its problems are reported, never written
as invalid XML: every ``Person`` is checked on its own against the schema, and the whole
message again at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources

from lxml import etree
from pydantic import BaseModel

from ehc.reports.outcomes import CaseOutcome, outcome_as_at
from ehc.reports.sen2_fields import Sen2Child, check_child
from ehc.settings import OfficerFlag
from ehc.store.report_queries import CaseRecord, ChildRecord
from ehc.version import RELEASE

SCHEMA_FILE = "SEN2_schema_2024.xsd"
SOFTWARE_CODE = "ehc-timeliness"


class CaseProblem(BaseModel):
    """Why one case was left out of the return."""

    case_ref: str
    problems: list[str]


class Sen2Summary(BaseModel):
    """What an export contained and what it left out (``?problems=true``)."""

    collection_year: int
    period_start: date
    period_end: date
    reference_date: date
    la_number: str
    exported: int
    skipped: int
    problems: list[CaseProblem]


@dataclass
class Sen2Export:
    summary: Sen2Summary
    xml: bytes | None = None
    exported_refs: list[str] = field(default_factory=list)


class NothingToExport(ValueError):
    """No request in the period could be exported (a return needs at least one person)."""


def collection_period(year: int) -> tuple[date, date]:
    """The calendar year before the collection year."""
    return date(year - 1, 1, 1), date(year - 1, 12, 31)


def reference_date(year: int) -> date:
    """The third Thursday of January of the collection year."""
    first = date(year, 1, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=2)


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The SEN2 2024 person-level XML Schema shipped with the package."""
    text = resources.files("ehc.reports").joinpath("schema", SCHEMA_FILE).read_bytes()
    return etree.XMLSchema(etree.fromstring(text))


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _header(
    year: int, la_number: str, dmo: OfficerFlag, dco: OfficerFlag, generated_at: datetime
) -> etree._Element:
    header = etree.Element("Header")
    details = _sub(header, "CollectionDetails")
    _sub(details, "Collection", "SEN2")
    _sub(details, "Year", str(year))
    _sub(details, "ReferenceDate", reference_date(year).isoformat())
    source = _sub(header, "Source")
    _sub(source, "SourceLevel", "L")
    _sub(source, "LEA", la_number)
    _sub(source, "SoftwareCode", SOFTWARE_CODE)
    _sub(source, "Release", RELEASE)
    _sub(
        source,
        "DateTime",
        generated_at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    _sub(source, "DMO", dmo)
    _sub(source, "DCO", dco)
    return header


def _person(child: Sen2Child, outcome: CaseOutcome) -> etree._Element:
    person = etree.Element("Person")
    _sub(person, "Surname", child.family_name)
    _sub(person, "Forename", child.given_name)
    _sub(person, "PersonBirthDate", child.date_of_birth.isoformat())
    _sub(person, "Sex", child.sex)
    _sub(person, "Ethnicity", child.ethnicity)
    _sub(person, "PostCode", child.postcode_formatted)
    if child.upn:
        _sub(person, "UPN", child.upn)
    if child.uln:
        _sub(person, "UniqueLearnerNumber", child.uln)
    if child.upn_unknown_reason and not child.upn:
        _sub(person, "UPNunknown", child.upn_unknown_reason)

    requests = _sub(person, "Requests")
    _sub(requests, "ReceivedDate", outcome.received_on.isoformat())
    if child.rya is not None:
        _sub(requests, "RYA", _flag(child.rya))
    decided_on = outcome.request_outcome_on
    if outcome.request_outcome != "A" and decided_on is not None:
        _sub(requests, "RequestOutcomeDate", decided_on.isoformat())
    _sub(requests, "RequestOutcome", outcome.request_outcome)

    assessment_outcome = outcome.assessment_outcome
    if assessment_outcome is None:
        return person
    assessment = _sub(requests, "Assessment")
    _sub(assessment, "AssessmentOutcome", assessment_outcome)
    outcome_on = outcome.assessment_outcome_on
    if outcome_on is not None:
        _sub(assessment, "AssessmentOutcomeDate", outcome_on.isoformat())
    if assessment_outcome == "Y":
        _sub(assessment, "Week20", _flag(outcome.week20_exception))
    if outcome.final_plan_on is not None:
        plan = _sub(assessment, "NamedPlan")
        _sub(plan, "StartDate", outcome.final_plan_on.isoformat())
        detail = _sub(plan, "PlanDetail")
        if child.setting_urn:
            _sub(detail, "URN", child.setting_urn)
        if child.setting_ukprn:
            _sub(detail, "UKPRN", child.setting_ukprn)
        _sub(detail, "SENSetting", child.setting)
        _sub(detail, "PlacementRank", "1")
        _sub(detail, "SENunitIndicator", _flag(child.sen_unit))
        _sub(detail, "ResourcedProvisionIndicator", _flag(child.resourced_provision))
    return person


def _message(header: etree._Element, persons: list[etree._Element]) -> etree._Element:
    message = etree.Element("Message")
    message.append(header)
    holder = _sub(message, "Persons")
    for person in persons:
        holder.append(person)
    return message


def _schema_problems(header: etree._Element, person: etree._Element) -> list[str]:
    """Check one person against the schema inside a throw-away message."""
    trial = _message(
        etree.fromstring(etree.tostring(header)), [etree.fromstring(etree.tostring(person))]
    )
    xsd = schema()
    if xsd.validate(trial):
        return []
    # Element names only: the schema's messages quote values, which are personal data.
    log: list[etree._LogEntry] = list(xsd.error_log)  # type: ignore[call-overload]
    names = sorted({str(err.path).rsplit("/", 1)[-1].split("[")[0] for err in log})
    return [f"the return's schema rejects {', '.join(names)} (check the child's details)"]


def _case_problems(
    child: ChildRecord | None, outcome: CaseOutcome
) -> tuple[Sen2Child | None, list[str]]:
    if child is None:
        return None, ["the case has no child details in the store"]
    data = {
        **child.extra,
        "given_name": child.given_name,
        "family_name": child.family_name,
        "date_of_birth": child.date_of_birth,
    }
    checked, found = check_child(data)
    if checked is not None:
        if checked.date_of_birth > outcome.received_on:
            found.append("the child's date of birth is after the request was received")
        if outcome.final_plan_on is not None and checked.setting is None:
            found.append(
                "a plan was issued but child.setting (the SEN2 setting code of the "
                "placement named in the plan) is missing"
            )
    return checked, found


def build_sen2(
    cases: list[CaseRecord],
    children: dict[str, ChildRecord],
    *,
    year: int,
    la_number: str,
    dmo: OfficerFlag,
    dco: OfficerFlag,
    generated_at: datetime | None = None,
) -> Sen2Export:
    """The return for collection year ``year``: XML for every request active in the
    collection period that passes the checks, and the problems of the rest.

    ``xml`` is None only when no request at all could be exported (the schema needs at
    least one person); the summary then says why.
    """
    start, end = collection_period(year)
    header = _header(year, la_number, dmo, dco, generated_at or datetime.now(UTC))
    persons: list[etree._Element] = []
    exported: list[str] = []
    skipped: list[CaseProblem] = []
    for case in cases:
        outcome = outcome_as_at(case, end)
        if not outcome.active_between(start, end):
            continue
        child, found = _case_problems(children.get(case.case_ref), outcome)
        person = None
        if child is not None and not found:
            try:
                person = _person(child, outcome)
            except ValueError:  # text XML cannot carry (control characters)
                found = ["the child's details hold characters an XML return cannot carry"]
            else:
                found = _schema_problems(header, person)
        if found or person is None:
            skipped.append(CaseProblem(case_ref=case.case_ref, problems=found))
            continue
        persons.append(person)
        exported.append(case.case_ref)

    summary = Sen2Summary(
        collection_year=year,
        period_start=start,
        period_end=end,
        reference_date=reference_date(year),
        la_number=la_number,
        exported=len(exported),
        skipped=len(skipped),
        problems=skipped,
    )
    if not persons:
        return Sen2Export(summary=summary)
    message = _message(header, persons)
    schema().assertValid(message)
    xml = etree.tostring(message, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Sen2Export(summary=summary, xml=xml, exported_refs=exported)


def problems_text(summary: Sen2Summary) -> str:
    """The skipped cases as lines a manager can work through."""
    lines = [
        f"SEN2 {summary.collection_year} (LA {summary.la_number}, requests active "
        f"{summary.period_start.isoformat()} to {summary.period_end.isoformat()}): "
        f"{summary.exported} exported, {summary.skipped} left out."
    ]
    for problem in summary.problems:
        lines.append(f"{problem.case_ref}: " + "; ".join(problem.problems))
    return "\n".join(lines) + "\n"
