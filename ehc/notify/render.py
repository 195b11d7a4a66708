"""The words of each notice. No personal data: the case reference, what is asked, the due
date and how to respond, nothing about the child."""

from __future__ import annotations

from datetime import date

from ehc.directory import Team
from ehc.notify.base import Email
from ehc.notify.routing import recipients

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
    "returned_for_quality": "Advice for {case_ref} returned: it does not meet the agreed template",
}

OPENINGS = {
    "request": "The council asks your team for {what} for an EHC needs assessment.",
    "reminder": "This is a reminder that {what} is still outstanding.",
    "due_today": "{what_cap} is due {due}.",
    "overdue": "{what_cap} has not been received and is now overdue.",
    "escalation": "{what_cap} requested from {team} is overdue. You are named on the "
    "escalation route for this team; please make sure it is sent.",
    "returned_for_quality": "The advice sent was returned by the caseworker because it does not "
    "meet the agreed template. The original due date still stands.",
}


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
    respond_url: str,
) -> Email:
    what = AGENCY_WORDS.get(agency, "advice")
    due = f"{due_on:%A %d %B %Y}"
    opening = OPENINGS[kind].format(
        what=what, what_cap=what[0].upper() + what[1:], team=team_name, due=due
    )
    body = "\n".join(
        [
            opening,
            "",
            f"Case reference: {case_ref}",
            f"Advice request: {advice_id}",
            f"Due by: {due} (6 weeks from receipt of the request for health bodies, SEND "
            "Regulations 2014 reg 8; 6 weeks from the request for others, SEND Code of "
            "Practice 9.41)",
            "",
            "How to respond: submit the contribution in the agreed template at",
            f"{respond_url}/advice-requests/{advice_id}/submission",
            "or reply to the SEND team's casework inbox quoting the case reference.",
            "",
            "This message holds no personal details; sign in to see the request.",
        ]
    )
    return Email(
        to=to, cc=cc, subject=SUBJECTS[kind].format(case_ref=case_ref, due=due), body=body, key=key
    )


Item = tuple[str, str, str, str, str, date | None]  # key, kind, case, advice id, agency, due


def render_batch(items: list[Item], team: Team, rung: int, respond_url: str, batch: str) -> Email:
    """One notice as it is; several for the same recipient and day as one digest."""
    to, cc = recipients(team, rung)
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
            respond_url=respond_url,
        )
    lines = [f"{len(items)} advice requests for {team.name} need attention today:", ""]
    for _key, kind, case_ref, advice_id, agency, due_on in items:
        due = f"{due_on:%a %d %b %Y}" if due_on else "see the request"
        lines.append(
            f"- {case_ref}, {AGENCY_WORDS.get(agency, 'advice')} ({advice_id}): "
            f"{kind.replace('_', ' ')}, due {due}"
        )
        lines.append(f"  {respond_url}/advice-requests/{advice_id}/submission")
    lines += ["", "This message holds no personal details; sign in to see each request."]
    return Email(
        to=to,
        cc=cc,
        key=f"digest:{batch}",
        subject=f"{len(items)} advice requests for {team.name}: reminders and overdue notices",
        body="\n".join(lines),
    )
