"""The words of each notice (ehc/notify/render.py): what a team reads, and what it never
reads (anything about the child)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehc.advice_templates import GENERAL_TEMPLATE, HEALTH_TEMPLATE
from ehc.directory import Rung, Team
from ehc.notify.render import (
    OPENINGS,
    ChildIdentifiers,
    Item,
    redact,
    render,
    render_batch,
    respond_url,
)

TEAM = Team(
    id="community-paediatrics",
    agency="health",
    name="Community paediatrics",
    email="paeds@nhs.example",
    ladder=[
        Rung(role="Service lead", email="lead@nhs.example"),
        Rung(role="DCO", email="dco@icb.example"),
    ],
)
DUE = date(2024, 12, 23)
URL = "https://ehc.council.example"


def _one(kind: str, **over: object) -> dict[str, object]:
    return {
        "key": f"A1:1:{kind}",
        "kind": kind,
        "case_ref": "EHC-0001",
        "advice_id": "EHC-0001-adv1",
        "agency": "health",
        "team_name": TEAM.name,
        "due_on": DUE,
        "to": "paeds@nhs.example",
        "cc": (),
        "public_url": URL,
        "template": HEALTH_TEMPLATE,
        **over,
    }


@pytest.mark.parametrize("kind", sorted(OPENINGS))
def test_every_notice_names_the_case_the_due_date_and_where_to_respond(kind: str) -> None:
    email = render(**_one(kind))  # type: ignore[arg-type]
    assert "EHC-0001" in email.subject
    assert "Monday 23 December 2024" in email.body
    assert f"{URL}/respond/EHC-0001-adv1" in email.body
    assert email.key == f"A1:1:{kind}"


@pytest.mark.parametrize("kind", sorted(OPENINGS))
def test_every_notice_carries_exactly_one_link_the_team_portal_page(kind: str) -> None:
    email = render(**_one(kind))  # type: ignore[arg-type]
    links = [word for word in email.body.split() if "://" in word]
    assert links == [respond_url(URL, "EHC-0001-adv1")] == [f"{URL}/respond/EHC-0001-adv1"]
    assert "/submission" not in email.body


def test_the_respond_link_is_built_in_one_place_and_escapes_the_id() -> None:
    assert respond_url("https://x.example/", "EHC-1-adv1") == "https://x.example/respond/EHC-1-adv1"
    assert respond_url("https://x.example", "a/b c") == "https://x.example/respond/a%2Fb%20c"


def test_a_health_notice_lists_the_health_template_and_cites_only_reg_8_1() -> None:
    email = render(**_one("request"))  # type: ignore[arg-type]
    assert "What to include (Health advice (agreed template)):" in email.body
    for title in [s.title for s in HEALTH_TEMPLATE.sections.values()]:
        assert f"- {title}" in email.body
    assert "- Outcomes: one or more, each with outcome, measure and timescale" in email.body
    assert "- Provision needed: one or more, each with what, who and how often" in email.body
    assert "Regulation 8(1) of the SEND Regulations 2014" in email.body
    assert "Code of Practice" not in email.body
    assert "9.41" not in email.body


@pytest.mark.parametrize("agency", ["social_care", "education", "educational_psychology"])
def test_a_notice_to_anyone_else_cites_only_the_code_of_practice(agency: str) -> None:
    email = render(**_one("overdue", agency=agency, template=GENERAL_TEMPLATE))  # type: ignore[arg-type]
    assert "SEND Code of Practice (2015), paragraph 9.41" in email.body
    assert "Regulation" not in email.body
    assert "8(1)" not in email.body
    assert "- Needs" in email.body


def test_a_return_for_quality_gives_the_reasons_and_does_not_claim_the_template_was_missed() -> (
    None
):
    reasons = "Outcomes are not measurable.\nSay who helps."
    email = render(**_one("returned_for_quality", reasons=reasons))  # type: ignore[arg-type]
    assert "The caseworker's reasons:\n  Outcomes are not measurable.\n  Say who helps." in (
        email.body
    )
    assert "returned for quality" in email.subject
    assert "template" not in email.subject
    assert "does not meet" not in email.body
    assert "The original due date still stands." in email.body


def test_a_return_whose_reasons_are_not_in_the_store_yet_points_at_the_request() -> None:
    email = render(**_one("returned_for_quality", reasons=None))  # type: ignore[arg-type]
    assert "They are shown with the request (follow the link below)." in email.body


def test_reasons_lose_the_childs_names_date_of_birth_and_identifiers() -> None:
    child = ChildIdentifiers(
        given_name="Amelia",
        family_name="Testcase",
        date_of_birth=date(2015, 3, 4),
        other=("A123456789012",),
    )
    text = (
        "amelia TESTCASE (born 04/03/2015, 2015-03-04, 4 March 2015), UPN A123456789012, "
        "NHS 943 476 5919: outcomes for Amelia's mobility are not measurable."
    )
    cleaned = redact(text, child)
    for gone in ("melia", "estcase", "2015", "A123456789012", "943 476 5919"):
        assert gone.lower() not in cleaned.lower()
    assert "outcomes for [removed]'s mobility are not measurable." in cleaned


def test_an_escalation_names_the_team_it_is_about() -> None:
    email = render(**_one("escalation", to="lead@nhs.example"))  # type: ignore[arg-type]
    assert "requested from Community paediatrics is overdue" in email.body
    assert email.subject.startswith("Escalation:")


def test_one_queued_notice_goes_out_as_itself_to_its_rung() -> None:
    item = ("A1:6:escalation", "escalation", "EHC-0001", "EHC-0001-adv1", "health", DUE)
    email = render_batch([item], TEAM, 2, URL, "batch", HEALTH_TEMPLATE)
    assert email.to == "dco@icb.example"
    assert email.cc == ("paeds@nhs.example",)
    assert email.key == "A1:6:escalation"


def test_several_notices_become_one_digest_listing_each_request() -> None:
    items = [
        ("A1:2:reminder", "reminder", "EHC-0001", "EHC-0001-adv1", "health", DUE),
        ("A2:5:overdue", "overdue", "EHC-0002", "EHC-0002-adv1", "health", None),
    ]
    email = render_batch(
        items, TEAM, 0, URL, "community-paediatrics.r0.2024-12-09", HEALTH_TEMPLATE
    )
    assert email.key == "digest:community-paediatrics.r0.2024-12-09"
    assert email.subject.startswith("2 advice requests for Community paediatrics")
    assert "- EHC-0001, health advice (EHC-0001-adv1): reminder, due Mon 23 Dec 2024" in email.body
    assert "overdue, due see the request" in email.body
    assert email.to == "paeds@nhs.example"
    assert f"  {URL}/respond/EHC-0001-adv1" in email.body
    assert f"  {URL}/respond/EHC-0002-adv1" in email.body
    assert "- Provision needed: one or more, each with what, who and how often" in email.body
    assert "Regulation 8(1)" in email.body
    assert "9.41" not in email.body


def test_a_digest_gives_each_returned_requests_reasons() -> None:
    items: list[Item] = [
        (
            "A1:1001:returned_for_quality",
            "returned_for_quality",
            "EHC-1",
            "EHC-1-adv1",
            "health",
            DUE,
        ),
        ("A2:5:overdue", "overdue", "EHC-2", "EHC-2-adv1", "health", DUE),
    ]
    reasons = {"A1:1001:returned_for_quality": "No   measures\ngiven."}
    email = render_batch(items, TEAM, 0, URL, "b", HEALTH_TEMPLATE, reasons)
    assert "  The caseworker's reasons: No measures given." in email.body


@given(
    kind=st.sampled_from(sorted(OPENINGS)),
    agency=st.sampled_from(["health", "social_care", "education", "other", "unknown"]),
    due=st.dates(min_value=date(2015, 1, 1), max_value=date(2040, 12, 31)),
)
def test_no_notice_carries_more_than_the_case_reference(kind: str, agency: str, due: date) -> None:
    """Whatever the kind, agency or date: only the pseudonymous reference identifies the
    case (no name or date of birth is even passed in), and the body is plain sentences."""
    email = render(**_one(kind, agency=agency, due_on=due))  # type: ignore[arg-type]
    assert "{" not in email.body
    assert "}" not in email.body
    assert "This message holds no personal details" in email.body
    assert len([w for w in email.body.split() if "://" in w]) == 1
