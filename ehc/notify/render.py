"""The words of each notice. No personal data about the child: the case reference, what is
asked, by when and under which rule, the agreed template's sections, and the one link to
respond; for a return for quality, the caseworker's reasons with the child's identifiers
removed (``redact``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from ehc.advice_templates import Template
from ehc.directory import Team
from ehc.notify.base import Email
from ehc.notify.routing import recipients
from ehc.statutory import Agency, regulation_for_advice

AGENCY_WORDS = {
    "health": "health advice",
    "social_care": "social care advice",
    "educational_psychology": "educational psychology advice",
    "education": "educational advice",
    "parent": "the family's views",
    "preparing_for_adulthood": "advice on preparing for adulthood",
    "other": "advice",
}

SUBJECTS = {
    "request": "Advice requested for EHC needs assessment {case_ref}: due {due}",
    "reminder": "Reminder: advice for {case_ref} is due {due}",
    "due_today": "Last reminder: advice for {case_ref} is due {due}",
    "overdue": "Overdue: advice for {case_ref} was due {due}",
    "escalation": "Escalation: advice for {case_ref} is overdue (due {due})",
    "returned_for_quality": "Advice for {case_ref} returned for quality: please revise and "
    "resend (due {due})",
}

OPENINGS = {
    "request": "The council asks your team for {what} for an EHC needs assessment.",
    "reminder": "This is a reminder that {what} is still outstanding.",
    "due_today": "{what_cap} is due {due}.",
    "overdue": "{what_cap} has not been received and is now overdue.",
    "escalation": "{what_cap} requested from {team} is overdue. You are named on the "
    "escalation route for this team; please make sure it is sent.",
    "returned_for_quality": "The caseworker has returned the {what} your team sent: it needs "
    "revising before it can be used, for the reasons below. The original due date still "
    "stands.",
}

RULES = {
    "SEND Regs 2014 reg 8(1)": "Regulation 8(1) of the SEND Regulations 2014 requires this "
    "advice within 6 weeks of your body receiving the request.",
    "SEND Code of Practice 9.41": "The SEND Code of Practice (2015), paragraph 9.41, asks for "
    "this advice within 6 weeks of the request.",
}
NO_PERSONAL_DATA = (
    "This message holds no personal details of the child; follow the link to see them."
)
REDACTED = "[removed]"


def respond_url(public_url: str, advice_id: str) -> str:
    """The one link a notice carries: the team portal's page for this request. Every
    notice, digest and page that points a team at a request builds it here."""
    return f"{public_url.rstrip('/')}/respond/{quote(advice_id, safe='')}"


def rule_for(agency: str) -> str:
    """The one rule that binds this agency (rules.md 2 and 8.4): reg 8(1) for health and
    the other bodies under reg 8, the Code of Practice 9.41 for everyone else."""
    try:
        return regulation_for_advice(Agency(agency))
    except ValueError:
        return regulation_for_advice(Agency.OTHER)


def template_lines(template: Template) -> list[str]:
    """The agreed template's sections, as the team reads them (the same ``Template`` the
    server checks a submission against, from the directory)."""
    lines = []
    for rule in template.sections.values():
        if rule.kind == "list":
            fields = [f.replace("_", " ") for f in rule.item_fields]
            each = ", ".join(fields[:-1]) + f" and {fields[-1]}" if len(fields) > 1 else fields[0]
            lines.append(f"- {rule.title}: one or more, each with {each}")
        else:
            lines.append(f"- {rule.title}")
    return lines


@dataclass(frozen=True)
class ChildIdentifiers:
    """What identifies the child, read from the store only to keep it out of a message."""

    given_name: str = ""
    family_name: str = ""
    date_of_birth: date | None = None
    other: tuple[str, ...] = ()  # UPN, NHS number and the like


_LONG_NUMBER = re.compile(r"\b(?:[A-Z]\d{12}|\d{3}[ -]?\d{3}[ -]?\d{4})\b")


def _date_forms(day: date) -> Iterable[str]:
    yield day.isoformat()
    for d in (f"{day.day:02d}", str(day.day)):
        for m in (f"{day.month:02d}", str(day.month)):
            for sep in "/-.":
                yield f"{d}{sep}{m}{sep}{day.year}"
    yield f"{day.day} {day:%B} {day.year}"
    yield f"{day.day} {day:%b} {day.year}"


def redact(text: str, child: ChildIdentifiers) -> str:
    """Free text with the child's names, date of birth and identifiers removed, and any
    UPN- or NHS-number-shaped string too: a caseworker's reasons may mention the child."""
    words = [w for w in (child.given_name, child.family_name, *child.other) if len(w) > 1]
    if child.date_of_birth is not None:
        words += list(_date_forms(child.date_of_birth))
    for word in sorted(set(words), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    return _LONG_NUMBER.sub(REDACTED, text)


def render(
    *,
    key: str,
    kind: str,
    case_ref: str,
    advice_id: str,
    agency: str,
    team_name: str,
    due_on: date,
    to: str,
    cc: tuple[str, ...],
    public_url: str,
    template: Template,
    reasons: str | None = None,
) -> Email:
    """One notice: what is asked, for which case, by when and under which rule, what the
    contribution must contain, the one link to respond and, for a return for quality, the
    caseworker's reasons (already redacted by the caller)."""
    what = AGENCY_WORDS.get(agency, "advice")
    due = f"{due_on:%A %d %B %Y}"
    opening = OPENINGS[kind].format(
        what=what, what_cap=what[0].upper() + what[1:], team=team_name, due=due
    )
    lines = [
        opening,
        "",
        f"Case reference: {case_ref}",
        f"Advice request: {advice_id}",
        f"Due by: {due}",
        RULES[rule_for(agency)],
    ]
    if kind == "returned_for_quality":
        lines += ["", "The caseworker's reasons:"]
        if reasons and reasons.strip():
            lines += [f"  {line}" for line in reasons.strip().splitlines()]
        else:
            lines.append("  They are shown with the request (follow the link below).")
    lines += [
        "",
        f"What to include ({template.name}):",
        *template_lines(template),
        "",
        "How to respond: open this link, sign in with your team's email address and fill in "
        "the form:",
        respond_url(public_url, advice_id),
        "",
        NO_PERSONAL_DATA,
    ]
    return Email(
        to=to,
        cc=cc,
        subject=SUBJECTS[kind].format(case_ref=case_ref, due=due),
        body="\n".join(lines),
        key=key,
    )


Item = tuple[str, str, str, str, str, date | None]  # key, kind, case, advice id, agency, due


def render_batch(
    items: list[Item],
    team: Team,
    rung: int,
    public_url: str,
    batch: str,
    template: Template,
    reasons: dict[str, str] | None = None,
) -> Email:
    """One notice as it is; several for the same recipient and day as one digest, each
    request with its own link. ``reasons`` holds redacted return reasons by notice key."""
    to, cc = recipients(team, rung)
    reasons = reasons or {}
    if len(items) == 1:
        key, kind, case_ref, advice_id, agency, due_on = items[0]
        assert due_on is not None
        return render(
            key=key,
            kind=kind,
            case_ref=case_ref,
            advice_id=advice_id,
            agency=agency,
            team_name=team.name,
            due_on=due_on,
            to=to,
            cc=cc,
            public_url=public_url,
            template=template,
            reasons=reasons.get(key),
        )
    lines = [f"{len(items)} advice requests for {team.name} need attention today:", ""]
    for key, kind, case_ref, advice_id, agency, due_on in items:
        due = f"{due_on:%a %d %b %Y}" if due_on else "see the request"
        lines.append(
            f"- {case_ref}, {AGENCY_WORDS.get(agency, 'advice')} ({advice_id}): "
            f"{kind.replace('_', ' ')}, due {due}"
        )
        if kind == "returned_for_quality" and reasons.get(key):
            lines.append("  The caseworker's reasons: " + " ".join(reasons[key].split()))
        lines.append(f"  {respond_url(public_url, advice_id)}")
    agencies = sorted({agency for *_, agency, _ in items})
    lines += ["", *(RULES[r] for r in sorted({rule_for(a) for a in agencies}))]
    lines += ["", f"What to include ({template.name}):", *template_lines(template)]
    lines += ["", NO_PERSONAL_DATA]
    return Email(
        to=to,
        cc=cc,
        key=f"digest:{batch}",
        subject=f"{len(items)} advice requests for {team.name}: reminders and overdue notices",
        body="\n".join(lines),
    )
