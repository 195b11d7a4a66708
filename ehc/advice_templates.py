"""The agreed template for each agency's contribution, and the check of a submission.

Inspectors found health contributions "not consistently submitted on the agreed format".
A submission missing a required section is a *missing input*: it is refused with every
problem listed, so the team can put it right in one go (rules.md section 5).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SectionRule(BaseModel):
    """A required section: a non-empty text, or a list whose items need given fields."""

    model_config = ConfigDict(frozen=True)

    title: str
    kind: str = Field(default="text", pattern="^(text|list)$")
    item_fields: tuple[str, ...] = ()


class Template(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    sections: dict[str, SectionRule]


HEALTH_TEMPLATE = Template(
    name="Health advice (agreed template)",
    sections={
        "professional": SectionRule(title="The professional giving the advice"),
        "service": SectionRule(title="Service"),
        "health_needs": SectionRule(title="The child's health needs"),
        "outcomes": SectionRule(
            title="Outcomes", kind="list", item_fields=("outcome", "measure", "timescale")
        ),
        "provision": SectionRule(
            title="Provision needed", kind="list", item_fields=("what", "who", "how_often")
        ),
    },
)

GENERAL_TEMPLATE = Template(
    name="Advice (agreed template)",
    sections={
        "professional": SectionRule(title="The professional giving the advice"),
        "needs": SectionRule(title="Needs"),
        "outcomes": SectionRule(
            title="Outcomes", kind="list", item_fields=("outcome", "measure", "timescale")
        ),
        "provision": SectionRule(
            title="Provision needed", kind="list", item_fields=("what", "who", "how_often")
        ),
    },
)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def problems(template: Template, sections: dict[str, Any]) -> list[str]:
    """Every missing or invalid section, as sentences; empty when the submission is whole."""
    found: list[str] = []
    for key, rule in template.sections.items():
        value = sections.get(key)
        if rule.kind == "text":
            if _blank(value) or not isinstance(value, str):
                found.append(f"{key}: '{rule.title}' is missing.")
            continue
        if not isinstance(value, list) or not value:
            found.append(f"{key}: '{rule.title}' needs at least one entry.")
            continue
        for i, item in enumerate(value, 1):
            if not isinstance(item, dict):
                found.append(f"{key}: entry {i} must have {', '.join(rule.item_fields)}.")
                continue
            gaps = [f for f in rule.item_fields if _blank(item.get(f))]
            if gaps:
                found.append(f"{key}: entry {i} is missing {', '.join(gaps)}.")
    return found
