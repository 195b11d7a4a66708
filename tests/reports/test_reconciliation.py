"""End to end: a calibrated synthetic cohort played through the real API and workflows;
the timeliness report must equal the figures the cohort was built with, to the unit, and
its SEN2 return must validate against the schema and hold every outcome."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from api.app import create_app
from ehc import measures
from ehc.settings import Settings
from ehc.store import metrics_queries
from ehc.synthetic.generator import known_figures
from ehc.synthetic.player import Played
from tests.conftest import Stack, ref_digits
from tests.reports.conftest import (
    COHORT_LA_CODE,
    COHORT_YEAR,
    DFE_DATA,
    SEN2_XSD,
    PlayedCohort,
    ReportStore,
    require_shared,
    wait_for_projection,
)

pytestmark = pytest.mark.slow  # seconds each: skip with -m 'not slow' for a quick loop

PERIOD = {"from": f"{COHORT_YEAR}-01-01", "to": f"{COHORT_YEAR}-12-31"}


AdviceKey = tuple[str, str, str | None]


def _advice_by_key(rows: list[dict[str, Any]]) -> dict[AdviceKey, dict[str, Any]]:
    return {
        (r["level"], r["agency"], r["team"]): {
            k: v for k, v in r.items() if k not in ("level", "agency", "team")
        }
        for r in rows
    }


async def test_the_report_reproduces_the_cohort_to_the_unit(
    report_stack: Stack, played_cohort: PlayedCohort
) -> None:
    known = played_cohort.cohort.known
    r = await report_stack.get("/reports/timeliness", role="manager", **PERIOD, la=COHORT_LA_CODE)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["time_period"] == str(COHORT_YEAR)
    assert report["time_identifier"] == "Calendar year"
    assert report["area"]["la_name"] == "North Tyneside"
    for section in ("requests", "assessments", "timeliness_20_week"):
        got = {k: v for k, v in report[section].items() if k not in report["unavailable"]}
        assert got == getattr(known, section), section
    assert _advice_by_key(report["advice"]) == known.advice
    # the cohort is not trivial: every band and outcome is there
    t = report["timeliness_20_week"]
    assert t["plans_issued_den"] > t["plans_issued_den_ex"] > 0
    assert (
        min(
            t["plans_issued_within_20_weeks"],
            t["plans_issued_gt20weeks_ltYear"],
            t["plans_issued_gt_1_year"],
        )
        > 0
    )
    q = report["requests"]
    assert (
        min(
            q["requests_decided_to_assess"],
            q["requests_decided_not_to_assess"],
            q["requests_withdrawn"],
            q["requests_decision_not_made"],
            q["request_outcome_over_6_weeks"],
        )
        > 0
    )


async def test_the_report_downloads_as_csv(
    report_stack: Stack, played_cohort: PlayedCohort
) -> None:
    known = played_cohort.cohort.known.timeliness_20_week
    r = await report_stack.get(
        "/reports/timeliness", role="manager", **PERIOD, la=COHORT_LA_CODE, format="csv"
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="timeliness_20_week_2024.csv"' in r.headers["content-disposition"]
    header, row = list(csv.reader(r.text.splitlines()))
    line = dict(zip(header, row, strict=True))
    assert int(line["plans_issued_den"]) == known["plans_issued_den"]
    assert float(line["PC_plans_issued_20_weeks_ex"]) == known["PC_plans_issued_20_weeks_ex"]
    r = await report_stack.get(
        "/reports/timeliness", role="manager", **PERIOD, format="csv", section="advice"
    )
    rows = list(csv.DictReader(r.text.splitlines()))
    total = next(x for x in rows if x["level"] == "all")
    assert (
        int(total["advice_requested"])
        == played_cohort.cohort.known.advice[("all", "all", None)]["advice_requested"]
    )


async def test_the_sen2_return_of_the_cohort_validates_and_holds_every_outcome(
    report_stack: Stack, played_cohort: PlayedCohort
) -> None:
    known = played_cohort.cohort.known.sen2
    r = await report_stack.get(
        "/reports/sen2", role="manager", year=COHORT_YEAR + 1, la=COHORT_LA_CODE, dmo="Y", dco="N"
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.headers["x-sen2-skipped"] == "0"
    assert 'filename="SEN2_2025_392.xml"' in r.headers["content-disposition"]
    schema = etree.XMLSchema(etree.parse(str(require_shared(SEN2_XSD))))
    doc = etree.fromstring(r.content)
    schema.assertValid(doc)

    assert doc.findtext("Header/Source/LEA") == COHORT_LA_CODE
    assert doc.findtext("Header/CollectionDetails/ReferenceDate") == "2025-01-16"
    assert (doc.findtext("Header/Source/DMO"), doc.findtext("Header/Source/DCO")) == ("Y", "N")
    persons = doc.findall("Persons/Person")
    assert len(persons) == known["persons"] == int(r.headers["x-sen2-exported"])
    requests = Counter(p.findtext("Requests/RequestOutcome") for p in persons)
    assessments = Counter(
        p.findtext("Requests/Assessment/AssessmentOutcome")
        for p in persons
        if p.find("Requests/Assessment") is not None
    )
    week20 = Counter(
        p.findtext("Requests/Assessment/Week20")
        for p in persons
        if p.find("Requests/Assessment/Week20") is not None
    )
    plans = [p for p in persons if p.find("Requests/Assessment/NamedPlan") is not None]
    assert {f"RequestOutcome_{k}": v for k, v in requests.items()} == {
        k: v for k, v in known.items() if k.startswith("RequestOutcome_")
    }
    assert {f"AssessmentOutcome_{k}": v for k, v in assessments.items()} == {
        k: v for k, v in known.items() if k.startswith("AssessmentOutcome_")
    }
    assert {f"Week20_{k}": v for k, v in week20.items()} == {
        k: v for k, v in known.items() if k.startswith("Week20_")
    }
    assert len(plans) == known["NamedPlan"]
    # every outcome the return can carry is covered by the cohort
    assert set(requests) == {"Y", "N", "W", "A"}
    assert set(assessments) == {"Y", "N", "W", "A"}
    assert set(week20) == {"0", "1"}
    # outcome dates are present exactly where an outcome was reached
    for p in persons:
        code = p.findtext("Requests/RequestOutcome")
        assert (p.find("Requests/RequestOutcomeDate") is None) == (code == "A")


@pytest.mark.parametrize(
    "as_at", [date(2024, 12, 31), date(2024, 9, 30), date(2025, 2, 28), date(2024, 3, 31)]
)
async def test_the_managers_gauge_and_dfes_report_agree_for_the_same_twelve_months(
    report_stack: Stack, report_store: ReportStore, played_cohort: PlayedCohort, as_at: date
) -> None:
    """The 20-week gauge read at D and the timeliness report for the 12 months ending D
    count the same plans issued, within 20 weeks, and excluding exception cases."""
    start, end = measures.twelve_months_ending(as_at)
    r = await report_stack.get(
        "/reports/timeliness", role="manager", **{"from": start.isoformat(), "to": end.isoformat()}
    )
    assert r.status_code == 200, r.text
    report = r.json()["timeliness_20_week"]
    async with report_store.sessions() as session:
        issued, within = await metrics_queries.plans_within_20_weeks(session, today=as_at)
    assert issued == {
        "included": report["plans_issued_den"],
        "excluded": report["plans_issued_den_ex"],
    }
    assert within == {
        "included": report["plans_issued_within_20_weeks"],
        "excluded": report["plans_issued_20_weeks_ex"],
    }
    if as_at == date(2024, 12, 31):  # the cohort's year: every kind of plan is in it
        assert issued["included"] > issued["excluded"] > within["excluded"] > 0


async def test_the_cohort_plays_quickly(played_cohort: PlayedCohort) -> None:
    assert len(played_cohort.cohort.scripts) >= 150
    assert played_cohort.seconds < 150, f"played in {played_cohort.seconds:.0f}s"


async def test_the_sen2_header_and_report_area_come_from_the_injected_settings(
    report_stack: Stack, report_store: ReportStore, played_cohort: PlayedCohort
) -> None:
    """The council's LA number, DMO and DCO are read from the app's one ``Settings`` (as
    set from EHC_LA_NUMBER, EHC_SEN2_DMO, EHC_SEN2_DCO), and the SEN2 header and the API
    carry the installed package's version."""
    settings = Settings(environment="test", la_number=COHORT_LA_CODE, sen2_dmo="R", sen2_dco="N")
    app = create_app(settings, temporal=report_stack.env.client, sessions=report_store.sessions)
    headers = report_stack.headers("manager")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        r = await http.get("/reports/sen2", params={"year": COHORT_YEAR + 1}, headers=headers)
        assert r.status_code == 200, r.text
        assert f"SEN2_{COHORT_YEAR + 1}_{COHORT_LA_CODE}.xml" in r.headers["content-disposition"]
        source = etree.fromstring(r.content).find(".//{*}Source")
        assert source is not None
        got = {child.tag.split("}")[-1]: child.text for child in source}
        assert (got["LEA"], got["DMO"], got["DCO"]) == (COHORT_LA_CODE, "R", "N")
        assert got["Release"] == version("ehc-timeliness")
        r = await http.get(
            "/reports/sen2", params={"year": COHORT_YEAR + 1, "dmo": "Y"}, headers=headers
        )
        source = etree.fromstring(r.content).find(".//{*}Source")
        assert source is not None
        assert source.findtext("{*}DMO") == "Y"  # the caller's answer wins
        r = await http.get("/reports/timeliness", params=PERIOD, headers=headers)
        assert r.json()["area"]["old_la_code"] == COHORT_LA_CODE
        r = await http.get("/openapi.json")
        assert r.json()["info"]["version"] == version("ehc-timeliness")


async def test_reports_are_for_managers(report_stack: Stack) -> None:
    for role, expected in (("caseworker", 403), ("team", 403), ("manager", 200), ("admin", 200)):
        r = await report_stack.get("/reports/timeliness", role=role, **PERIOD)
        assert r.status_code == expected, (role, r.text)
        r = await report_stack.get(
            "/reports/sen2",
            role=role,
            year=COHORT_YEAR + 1,
            la=COHORT_LA_CODE,
            dmo="Y",
            dco="Y",
            problems="true",
        )
        assert r.status_code == expected, (role, r.text)
    r = await report_stack.http.get("/reports/timeliness", params=PERIOD)
    assert r.status_code == 401
    r = await report_stack.get("/reports/sen2", role="manager", year=COHORT_YEAR + 1)
    assert r.status_code == 422
    assert r.json()["error"] == "not_configured"
    r = await report_stack.get(
        "/reports/timeliness", role="manager", **{"from": "2024-12-31", "to": "2024-01-01"}
    )
    assert r.status_code == 422


# --- a malformed case is reported, not exported --------------------------------------------

MALFORMED_DAY0 = date(2023, 3, 1)
GOOD_CHILD: dict[str, Any] = {
    "date_of_birth": "2014-02-03",
    "sex": "M",
    "ethnicity": "WBRI",
    "postcode": "NE29 6AB",
    "upn_unknown_reason": "UN2",
    "setting": "OLA",
}
MALFORMED: dict[str, dict[str, Any]] = {
    "nosex": {"sex": None},
    "badethnicity": {"ethnicity": "XXXX"},
    "noidentifier": {"upn_unknown_reason": None},
    "badpostcode": {"postcode": "not a postcode"},
    "nosetting": {"setting": None},  # only matters once a plan is issued
}


@dataclass
class Malformed:
    refs: dict[str, str]  # label -> case_ref
    good: str


async def _withdrawn_2023(stack: Stack, ref: str, child: dict[str, Any]) -> dict[str, Any]:
    body = {
        "case_ref": ref,
        "received_on": MALFORMED_DAY0.isoformat(),
        "requested_by": "parent",
        "child": {
            "given_name": "Malformed",
            "family_name": ref,
            **{k: v for k, v in child.items() if v is not None},
        },
    }
    r = await stack.post("/assessments", body)
    assert r.status_code == 201, r.text
    if child.get("setting", "x") is None:
        steps = [
            ("decision-to-assess", {"decision": "assess", "decided_on": "2023-03-20"}),
            ("decision-to-issue", {"decision": "issue", "decided_on": "2023-05-02"}),
            ("draft-plan", {"served_on": "2023-06-01"}),
            ("final-plan", {"issued_on": "2023-07-10"}),
        ]
    else:
        steps = [("withdrawal", {"withdrawn_on": "2023-03-20", "reason": "test"})]
    for path, step in steps:
        r = await stack.post(f"/assessments/{ref}/{path}", step)
        assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view


@pytest.fixture(scope="module")
async def malformed(
    report_stack: Stack, report_store: ReportStore, played_cohort: PlayedCohort
) -> Malformed:
    """Five cases a caseworker entered with a wrong or missing SEN2 field, and one good
    one, all received and closed in 2023 (so the 2024 figures do not change)."""
    tag = ref_digits(2)  # case refs hold no run of letters (a name) and no date
    refs = {label: f"BAD-{tag}-{i}" for i, label in enumerate(MALFORMED)}
    good = f"OK-{tag}"
    answers = {good: await _withdrawn_2023(report_stack, good, GOOD_CHILD)}
    for label, change in MALFORMED.items():
        answers[refs[label]] = await _withdrawn_2023(
            report_stack, refs[label], {**GOOD_CHILD, **change}
        )
    played = {
        ref: Played(ref, v["stage"], max(e["seq"] for e in v["events"]))
        for ref, v in answers.items()
    }
    await wait_for_projection(report_stack, report_store.sessions, played)
    return Malformed(refs, good)


def _persons(xml: bytes) -> list[str]:
    doc = etree.fromstring(xml)
    etree.XMLSchema(etree.parse(str(require_shared(SEN2_XSD)))).assertValid(doc)
    return [str(p.findtext("Surname")) for p in doc.findall("Persons/Person")]


async def test_a_malformed_case_is_reported_not_exported(
    report_stack: Stack, played_cohort: PlayedCohort, malformed: Malformed
) -> None:
    year = MALFORMED_DAY0.year + 1
    expected = known_figures(played_cohort.cohort.scripts, MALFORMED_DAY0.year).sen2["persons"]
    r = await report_stack.get(
        "/reports/sen2", role="manager", year=year, la=COHORT_LA_CODE, dmo="N", dco="Y"
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-sen2-skipped"] == str(len(MALFORMED))
    surnames = _persons(r.content)
    assert len(surnames) == expected + 1 == int(r.headers["x-sen2-exported"])
    assert malformed.good in surnames
    assert not set(malformed.refs.values()) & set(surnames)

    r = await report_stack.get(
        "/reports/sen2",
        role="manager",
        year=year,
        la=COHORT_LA_CODE,
        dmo="N",
        dco="Y",
        problems="true",
    )
    assert r.status_code == 200
    summary = r.json()
    assert (summary["exported"], summary["skipped"]) == (expected + 1, len(MALFORMED))
    why = {p["case_ref"]: " ".join(p["problems"]) for p in summary["problems"]}
    assert set(why) == set(malformed.refs.values())
    assert "child.sex is missing" in why[malformed.refs["nosex"]]
    assert "child.ethnicity" in why[malformed.refs["badethnicity"]]
    assert "upn_unknown_reason" in why[malformed.refs["noidentifier"]]
    assert "child.postcode" in why[malformed.refs["badpostcode"]]
    assert "child.setting" in why[malformed.refs["nosetting"]]
    assert "not a postcode" not in r.text  # the value itself is never repeated


# --- the ehc command -----------------------------------------------------------------------


def _ehc(store: ReportStore, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EHC_DATABASE_URL": store.url, "EHC_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("ehc")), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_ehc_command_exports_sen2_and_reports_skipped_cases(
    report_store: ReportStore,
    played_cohort: PlayedCohort,
    malformed: Malformed,
    tmp_path: Path,
) -> None:
    done = _ehc(
        report_store,
        tmp_path,
        "sen2",
        "export",
        "--year",
        str(COHORT_YEAR + 1),
        "--la",
        COHORT_LA_CODE,
        "--dmo",
        "Y",
        "--dco",
        "Y",
    )
    assert done.returncode == 0, done.stderr
    assert len(_persons(done.stdout.encode())) == played_cohort.cohort.known.sen2["persons"]
    assert "0 left out" in done.stderr

    done = _ehc(
        report_store,
        tmp_path,
        "sen2",
        "export",
        "--year",
        "2024",
        "--la",
        COHORT_LA_CODE,
        "--dmo",
        "Y",
        "--dco",
        "Y",
    )
    assert done.returncode == 1
    surnames = _persons(done.stdout.encode())  # still valid XML for the rest
    assert malformed.good in surnames
    for ref in malformed.refs.values():
        assert f"{ref}: " in done.stderr
        assert ref not in surnames

    done = _ehc(report_store, tmp_path, "sen2", "export", "--year", "2025")
    assert done.returncode == 2
    assert "EHC_LA_NUMBER" in done.stderr
    assert done.stdout == ""


async def test_the_ehc_command_prints_the_report_as_json_and_csv(
    report_store: ReportStore, played_cohort: PlayedCohort, tmp_path: Path
) -> None:
    known = played_cohort.cohort.known
    period = ("--from", f"{COHORT_YEAR}-01-01", "--to", f"{COHORT_YEAR}-12-31")
    done = _ehc(report_store, tmp_path, "report", "timeliness", *period, "--la", COHORT_LA_CODE)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {k: v for k, v in report["timeliness_20_week"].items()} == known.timeliness_20_week

    done = _ehc(
        report_store,
        tmp_path,
        "report",
        "timeliness",
        *period,
        "--la",
        COHORT_LA_CODE,
        "--format",
        "csv",
        "--section",
        "requests",
    )
    assert done.returncode == 0, done.stderr
    header, row = list(csv.reader(done.stdout.splitlines()))
    published = require_shared(DFE_DATA) / "requests.csv"
    with published.open(encoding="utf-8-sig", newline="") as handle:
        assert header == next(csv.reader(handle))
    line = dict(zip(header, row, strict=True))
    assert int(line["requests_received_in_year"]) == known.requests["requests_received_in_year"]
    assert line["la_name"] == "North Tyneside"
