"""The SEN2 return built from store records, without a stack: field checks, the mapping
of outcomes to SEN2 codes, and a malformed case reported instead of exported."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from ehc.reports.sen2 import build_sen2, collection_period, problems_text, reference_date, schema
from ehc.reports.sen2_fields import check_child
from ehc.store.report_queries import CaseRecord, ChildRecord
from tests.reports.conftest import SEN2_XSD, require_shared
from tests.reports.records import case_record

GOOD: dict[str, Any] = {
    "sex": "F",
    "ethnicity": "WBRI",
    "postcode": "ne8 1hh",
    "upn": "A123456789012",
    "setting": "OLA",
    "setting_urn": "123456",
}


def _case(
    ref: str, day0: date, *events: tuple[str, int, dict[str, str]], exception: bool = False
) -> CaseRecord:
    return case_record(ref, day0, *events, exceptions=(f"{ref}-exc1",) if exception else ())


def _child(ref: str, **extra: Any) -> ChildRecord:
    return ChildRecord(ref, "Sam", ref, date(2015, 5, 1), {**GOOD, **extra})


def _export(cases: list[CaseRecord], children: dict[str, ChildRecord]):
    return build_sen2(
        cases,
        children,
        year=2025,
        la_number="392",
        dmo="Y",
        dco="R",
        generated_at=datetime(2025, 1, 20, 9, tzinfo=UTC),
    )


def test_collection_period_and_reference_date() -> None:
    assert collection_period(2025) == (date(2024, 1, 1), date(2024, 12, 31))
    assert reference_date(2024) == date(2024, 1, 18)
    assert reference_date(2025) == date(2025, 1, 16)
    assert reference_date(2023) == date(2023, 1, 19)


def test_child_fields_follow_the_code_lists() -> None:
    base = {"given_name": "Sam", "family_name": "Example", "date_of_birth": "2015-05-01"}
    child, problems = check_child({**base, **GOOD, "sex": "f", "ethnicity": "wbri"})
    assert problems == []
    assert child is not None
    assert (child.sex, child.ethnicity, child.postcode_formatted) == ("F", "WBRI", "NE8 1HH")
    _, problems = check_child(
        {**base, "ethnicity": "XXXX", "postcode": "12345", "upn_unknown_reason": "UN11"}
    )
    assert any(p.startswith("child.sex is missing") for p in problems)
    assert any("child.ethnicity must be one of" in p for p in problems)
    assert any("child.postcode must be a UK postcode" in p for p in problems)
    assert any("UN1 to UN10" in p for p in problems)
    assert "XXXX" not in " ".join(problems).replace("ethnicity codes (", "")
    _, problems = check_child({**base, "sex": "M", "ethnicity": "WBRI", "postcode": "NE8 1HH"})
    assert problems == [
        "child has no upn, uln or upn_unknown_reason: send one of them "
        "(upn_unknown_reason UN1-UN10 when the UPN is not known)"
    ]


def test_every_outcome_maps_to_its_sen2_code_and_validates() -> None:
    day0 = date(2024, 2, 5)
    cases = [
        _case(
            "PLAN",
            day0,
            ("decision_to_assess", 30, {"decision": "assess"}),
            ("decision_to_issue", 100, {"decision": "issue"}),
            ("draft_plan_served", 110, {}),
            ("final_plan_issued", 130, {}),
            exception=True,
        ),
        _case(
            "NOPLAN",
            day0,
            ("decision_to_assess", 30, {"decision": "assess"}),
            ("decision_to_issue", 100, {"decision": "not_issue"}),
        ),
        _case("REFUSED", day0, ("decision_to_assess", 30, {"decision": "not_assess"})),
        _case("GONE", day0, ("withdrawn", 10, {})),
        _case(
            "QUIT", day0, ("decision_to_assess", 30, {"decision": "assess"}), ("withdrawn", 50, {})
        ),
        _case("OPEN", date(2024, 12, 1)),
        _case("OLD", date(2022, 3, 1), ("decision_to_assess", 30, {"decision": "not_assess"})),
    ]
    result = _export(cases, {c.case_ref: _child(c.case_ref) for c in cases})
    assert result.summary.skipped == 0
    assert result.exported_refs == ["PLAN", "NOPLAN", "REFUSED", "GONE", "QUIT", "OPEN"]
    assert result.xml is not None
    doc = etree.fromstring(result.xml)
    etree.XMLSchema(etree.parse(str(require_shared(SEN2_XSD)))).assertValid(doc)
    people = {p.findtext("Surname"): p for p in doc.findall("Persons/Person")}
    assert people["PLAN"].findtext("PostCode") == "NE8 1HH"
    plan = people["PLAN"].find("Requests")
    assert plan is not None
    assert plan.findtext("RequestOutcome") == "Y"
    assert plan.findtext("RequestOutcomeDate") == "2024-03-06"
    assert plan.findtext("Assessment/AssessmentOutcome") == "Y"
    assert plan.findtext("Assessment/AssessmentOutcomeDate") == "2024-05-15"
    assert plan.findtext("Assessment/Week20") == "1"
    assert plan.findtext("Assessment/NamedPlan/StartDate") == "2024-06-14"
    assert plan.findtext("Assessment/NamedPlan/PlanDetail/SENSetting") == "OLA"
    assert plan.findtext("Assessment/NamedPlan/PlanDetail/URN") == "123456"
    codes = {
        name: (
            p.findtext("Requests/RequestOutcome"),
            p.findtext("Requests/Assessment/AssessmentOutcome"),
        )
        for name, p in people.items()
    }
    assert codes == {
        "PLAN": ("Y", "Y"),
        "NOPLAN": ("Y", "N"),
        "REFUSED": ("N", None),
        "GONE": ("W", None),
        "QUIT": ("Y", "W"),
        "OPEN": ("A", None),
    }
    assert people["OPEN"].find("Requests/RequestOutcomeDate") is None
    assert people["NOPLAN"].find("Requests/Assessment/Week20") is None


def test_a_malformed_case_is_reported_not_exported() -> None:
    day0 = date(2024, 4, 1)
    cases = [
        _case("FINE", day0),
        _case("NOSEX", day0),
        _case("BADETH", day0),
        _case(
            "NOSETTING",
            day0,
            ("decision_to_assess", 20, {"decision": "assess"}),
            ("decision_to_issue", 80, {"decision": "issue"}),
            ("draft_plan_served", 90, {}),
            ("final_plan_issued", 120, {}),
        ),
        _case("CONTROL", day0),
        _case("NOCHILD", day0),
    ]
    children = {
        "FINE": _child("FINE"),
        "NOSEX": _child("NOSEX", sex=None),
        "BADETH": _child("BADETH", ethnicity="XXXX"),
        "NOSETTING": _child("NOSETTING", setting=None),
        "CONTROL": ChildRecord("CONTROL", "Sam\x01", "CONTROL", date(2015, 5, 1), GOOD),
    }
    result = _export(cases, children)
    assert result.exported_refs == ["FINE"]
    assert result.summary.exported == 1
    assert result.summary.skipped == 5
    why = {p.case_ref: " ".join(p.problems) for p in result.summary.problems}
    assert "child.sex" in why["NOSEX"]
    assert "child.ethnicity" in why["BADETH"]
    assert "child.setting" in why["NOSETTING"]
    assert "XML" in why["CONTROL"]
    assert "no child details" in why["NOCHILD"]
    assert result.xml is not None
    doc = etree.fromstring(result.xml)
    schema().assertValid(doc)
    assert [p.findtext("Surname") for p in doc.findall("Persons/Person")] == ["FINE"]
    text = problems_text(result.summary)
    assert "1 exported, 5 left out" in text
    assert "NOSEX: child.sex is missing" in text


def test_nothing_exportable_gives_no_xml() -> None:
    result = _export([_case("NOSEX", date(2024, 4, 1))], {"NOSEX": _child("NOSEX", sex=None)})
    assert result.xml is None
    assert result.summary.skipped == 1


def test_requests_closed_before_the_period_or_received_after_it_are_left_out() -> None:
    cases = [
        _case("CLOSED2023", date(2023, 3, 1), ("withdrawn", 10, {})),
        _case("DEC2023", date(2023, 12, 20), ("decision_to_assess", 20, {"decision": "assess"})),
        _case("NEXTYEAR", date(2025, 1, 2)),
    ]
    result = _export(cases, {c.case_ref: _child(c.case_ref) for c in cases})
    assert result.exported_refs == ["DEC2023"]
