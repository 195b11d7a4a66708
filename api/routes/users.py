"""Users and their tokens (admin): list, create with an expiry, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from api.deps import SessionDep, require
from api.errors import ApiError
from api.schemas import Body
from ehc.models import Role, User, UserRecord
from ehc.store import repository

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[User, Depends(require(Role.ADMIN))]


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    team: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="The token works: not revoked and not expired")


class NewUser(Body):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    team: str | None = Field(default=None, max_length=80)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class CreatedUser(UserOut):
    token: str = Field(description="Shown once; the store keeps only its hash")


def _out(row: UserRecord, now: datetime) -> dict[str, object]:
    expired = row.expires_at is not None and row.expires_at <= now
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "team": row.team,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
        "active": row.revoked_at is None and not expired,
    }


@router.get("", response_model=list[UserOut], summary="Every user (tokens are never shown)")
async def list_users(user: Admin, session: SessionDep, request: Request) -> list[dict[str, object]]:
    now = request.app.state.clock()
    return [_out(row, now) for row in await repository.list_users(session)]


@router.post(
    "",
    response_model=CreatedUser,
    status_code=status.HTTP_201_CREATED,
    summary="Create a user; the token is in the answer, once",
)
async def create_user(
    body: NewUser, user: Admin, session: SessionDep, request: Request
) -> dict[str, object]:
    problem = await repository.user_problem(session, role=body.role, team=body.team)
    if problem is not None:
        raise ApiError(422, "invalid_user", problem)
    now = request.app.state.clock()
    expires = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    created, token = await repository.create_user(
        session, name=body.name, role=body.role, team=body.team, expires_at=expires
    )
    row = await repository.get_user(session, user_id=created.id)
    assert row is not None
    return {**_out(row, now), "token": token}


@router.post("/{user_id}/revoke", response_model=UserOut, summary="Revoke a user's token")
async def revoke(
    user_id: int, user: Admin, session: SessionDep, request: Request
) -> dict[str, object]:
    now = request.app.state.clock()
    row = await repository.revoke_user(session, user_id=user_id, now=now)
    if row is None:
        raise ApiError(404, "not_found", f"There is no user {user_id}.")
    await session.commit()
    return _out(row, now)
