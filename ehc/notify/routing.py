"""Who a notice goes to: the team, or a rung of its escalation ladder with the team copied."""

from __future__ import annotations

from ehc.directory import Team


def recipients(team: Team, rung: int) -> tuple[str, tuple[str, ...]]:
    """Rung 0 is the team; an escalation goes to that rung of the ladder, team copied."""
    if rung == 0 or not team.ladder:
        return str(team.email), ()
    person = team.ladder[min(rung, len(team.ladder)) - 1]
    return str(person.email), (str(team.email),)
