"""The team directory: who is asked for advice and who is told when it is late (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require
from api.errors import ApiError
from ehc.directory import Team
from ehc.models import Role, User
from ehc.store import advice_requests

router = APIRouter(prefix="/teams", tags=["teams"])
Admin = Annotated[User, Depends(require(Role.ADMIN))]
Staff = Annotated[User, Depends(require(Role.CASEWORKER, Role.MANAGER, Role.ADMIN))]


@router.get("", response_model=list[Team], summary="Every team and its escalation ladder")
async def list_teams(user: Staff, session: SessionDep) -> list[Team]:
    return await advice_requests.list_teams(session)


@router.get("/{team_id}", response_model=Team)
async def get_team(team_id: str, user: Staff, session: SessionDep) -> Team:
    team = await advice_requests.get_team(session, team_id=team_id)
    if team is None:
        raise ApiError(404, "not_found", "No team was found with that id.")
    return team


@router.put("/{team_id}", response_model=Team, summary="Add or change a team (admin)")
async def put_team(team_id: str, team: Team, user: Admin, session: SessionDep) -> Team:
    if team.id != team_id:
        raise ApiError(422, "id_mismatch", "The team id in the body must match the address.")
    await advice_requests.save_team(session, team)
    await session.commit()
    return team
