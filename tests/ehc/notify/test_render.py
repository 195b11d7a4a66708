"""The words of each notice (ehc/notify/render.py): what a team reads, and what it never
reads (anything about the child)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehc.directory import Rung, Team
from ehc.notify.render import OPENINGS, render, render_batch

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
        "respond_url": URL,
        **over,
    }


@pytest.mark.parametrize("kind", sorted(OPENINGS))
def test_every_notice_names_the_case_the_due_date_and_where_to_respond(kind: str) -> None:
    email = render(**_one(kind))  # type: ignore[arg-type]
    assert "EHC-0001" in email.subject
    assert "Monday 23 December 2024" in email.body
    assert f"{URL}/advice-requests/EHC-0001-adv1/submission" in email.body
    assert email.key == f"A1:1:{kind}"


def test_an_escalation_names_the_team_it_is_about() -> None:
    email = render(**_one("escalation", to="lead@nhs.example"))  # type: ignore[arg-type]
    assert "requested from Community paediatrics is overdue" in email.body
    assert email.subject.startswith("Escalation:")


def test_one_queued_notice_goes_out_as_itself_to_its_rung() -> None:
    item = ("A1:6:escalation", "escalation", "EHC-0001", "EHC-0001-adv1", "health", DUE)
    email = render_batch([item], TEAM, 2, URL, "batch")
    assert email.to == "dco@icb.example"
    assert email.cc == ("paeds@nhs.example",)
    assert email.key == "A1:6:escalation"


def test_several_notices_become_one_digest_listing_each_request() -> None:
    items = [
        ("A1:2:reminder", "reminder", "EHC-0001", "EHC-0001-adv1", "health", DUE),
        ("A2:5:overdue", "overdue", "EHC-0002", "EHC-0002-adv1", "health", None),
    ]
    email = render_batch(items, TEAM, 0, URL, "community-paediatrics.r0.2024-12-09")
    assert email.key == "digest:community-paediatrics.r0.2024-12-09"
    assert email.subject.startswith("2 advice requests for Community paediatrics")
    assert "- EHC-0001, health advice (EHC-0001-adv1): reminder, due Mon 23 Dec 2024" in email.body
    assert "overdue, due see the request" in email.body
    assert email.to == "paeds@nhs.example"


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
