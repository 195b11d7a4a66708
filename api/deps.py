"""FastAPI dependencies: settings, the Temporal client, a store session, the current user."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import ApiError
from ehc.models import User
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import repository

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


def get_today(request: Request) -> date:
    """Today's date in England (the clock is injectable for tests)."""
    clock: Clock = request.app.state.clock
    return london_date(clock())


def get_now(request: Request) -> datetime:
    """The API's clock (injectable for tests), aware UTC."""
    clock: Clock = request.app.state.clock
    return clock()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TodayDep = Annotated[date, Depends(get_today)]
NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False)


async def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorised", "Send your token as 'Authorization: Bearer <token>'.")
    token = credentials.credentials
    user = _known_users.get(token)
    if user is None:
        user = await repository.user_by_token(session, token=token)
        # End the read transaction now: a route must never hold the store while it waits on
        # Temporal (the worker's projection of that very case needs to write).
        await session.rollback()
        if user is None:
            raise ApiError(401, "unauthorised", "That token is not recognised.")
        _known_users.put(token, user)
    return user


class _UserCache:
    """Tokens recognised in the last ``seconds`` (issue 14: the token lookup was a quarter of
    an assessment start's work). Only recognised tokens are kept, in this process, hashed as
    the store keeps them; users are never deleted or changed by this code base, so the only
    staleness is a token removed straight from the database, accepted for ``seconds`` more."""

    def __init__(self, seconds: float = 30.0, size: int = 1000) -> None:
        self.seconds = seconds
        self.size = size
        self._users: dict[str, tuple[float, User]] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> User | None:
        entry = self._users.get(self._key(token))
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def put(self, token: str, user: User) -> None:
        if len(self._users) >= self.size:
            self._users.clear()
        self._users[self._key(token)] = (time.monotonic(), user)


_known_users = _UserCache()


def require(*roles: str) -> Callable[..., Awaitable[User]]:
    """A dependency that lets only ``roles`` through."""

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise ApiError(403, "forbidden", f"A {user.role} user cannot do this.")
        return user

    return dependency


Reader = Annotated[User, Depends(require("caseworker", "manager", "admin"))]
Writer = Annotated[User, Depends(require("caseworker", "admin"))]
