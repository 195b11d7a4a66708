"""The agreed template's check (ehc/templates.py), without a server: what a team is told."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ehc.advice_templates import GENERAL_TEMPLATE, HEALTH_TEMPLATE, problems

WHOLE_HEALTH: dict[str, Any] = {
    "professional": "Dr A Paediatrician",
    "service": "Community paediatrics",
    "health_needs": "Epilepsy, managed with medication",
    "outcomes": [{"outcome": "Attends school", "measure": "90% attendance", "timescale": "1y"}],
    "provision": [{"what": "Care plan", "who": "School nurse", "how_often": "Termly"}],
}


def test_a_whole_health_submission_has_no_problems() -> None:
    assert problems(HEALTH_TEMPLATE, WHOLE_HEALTH) == []


def test_an_empty_submission_lists_every_section_at_once() -> None:
    found = problems(HEALTH_TEMPLATE, {})
    assert [p.split(":")[0] for p in found] == list(HEALTH_TEMPLATE.sections)
    assert "professional: 'The professional giving the advice' is missing." in found
    assert "outcomes: 'Outcomes' needs at least one entry." in found


def test_a_blank_text_section_counts_as_missing() -> None:
    found = problems(HEALTH_TEMPLATE, {**WHOLE_HEALTH, "service": "   "})
    assert found == ["service: 'Service' is missing."]


def test_a_list_entry_names_the_fields_it_lacks() -> None:
    outcomes = [WHOLE_HEALTH["outcomes"][0], {"outcome": "Walks to school", "measure": ""}]
    found = problems(HEALTH_TEMPLATE, {**WHOLE_HEALTH, "outcomes": outcomes})
    assert found == ["outcomes: entry 2 is missing measure, timescale."]


def test_a_list_entry_that_is_not_an_object_says_what_it_must_have() -> None:
    found = problems(HEALTH_TEMPLATE, {**WHOLE_HEALTH, "provision": ["a care plan"]})
    assert found == ["provision: entry 1 must have what, who, how_often."]


def test_text_where_a_list_is_needed_is_refused() -> None:
    found = problems(GENERAL_TEMPLATE, {"professional": "x", "needs": "y", "outcomes": "lots"})
    assert "outcomes: 'Outcomes' needs at least one entry." in found
    assert "provision: 'Provision needed' needs at least one entry." in found


@given(st.sets(st.sampled_from(sorted(WHOLE_HEALTH))))
def test_each_dropped_section_is_reported_exactly_once(dropped: set[str]) -> None:
    sections = {k: v for k, v in WHOLE_HEALTH.items() if k not in dropped}
    named = [p.split(":")[0] for p in problems(HEALTH_TEMPLATE, sections)]
    assert sorted(named) == sorted(dropped)
