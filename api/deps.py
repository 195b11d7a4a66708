"""FastAPI dependencies: settings, the Temporal client, a store session, the current user."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import ApiError
from ehc.models import Role, User
from ehc.settings import Settings
from ehc.statutory import london_date
from ehc.store import repository
from ehc.store.db import read_outside_a_transaction

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


# The request's small dependencies are ``async def`` although they never wait: FastAPI runs a
# plain ``def`` dependency in its thread pool, a thread hop per dependency per request.


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_client(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


async def get_today(request: Request) -> date:
    """Today's date in England (the clock is injectable for tests)."""
    clock: Clock = request.app.state.clock
    return london_date(clock())


async def get_now(request: Request) -> datetime:
    """The API's clock (injectable for tests), aware UTC."""
    clock: Clock = request.app.state.clock
    return clock()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
TodayDep = Annotated[date, Depends(get_today)]
NowDep = Annotated[datetime, Depends(get_now)]

_bearer = HTTPBearer(auto_error=False)


class FailedSignIns:
    """Failed authentications in a sliding window, per client address and per token
    prefix: past the allowance both are refused (429) until the window has passed, so
    tokens cannot be guessed quickly from one address or spread over many."""

    MAX_TRACKED = 10_000

    def __init__(self, allowed: int, window_seconds: float) -> None:
        self.allowed = allowed
        self.window = window_seconds
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[key]
        return times

    def wait_seconds(self, keys: list[str], now: float) -> float:
        """0 if every key may try again; else how long until the oldest failure expires."""
        waits = [
            times[0] + self.window - now
            for times in (self._recent(k, now) for k in keys)
            if len(times) >= self.allowed
        ]
        return max(waits, default=0.0)

    def failed(self, keys: list[str], now: float) -> None:
        if len(self._seen) > self.MAX_TRACKED:
            self._seen.clear()  # bounded memory under a flood of distinct keys
        for key in keys:
            self._seen.setdefault(key, deque()).append(now)


def _failed_sign_ins(request: Request) -> FailedSignIns:
    limiter: FailedSignIns | None = getattr(request.app.state, "failed_sign_ins", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limiter = FailedSignIns(
            settings.auth_failures_allowed, settings.auth_failure_window_seconds
        )
        request.app.state.failed_sign_ins = limiter
    return limiter


def _unauthorised(detail: str) -> ApiError:
    return ApiError(401, "unauthorised", detail, headers={"WWW-Authenticate": "Bearer"})


async def current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("Send your token as 'Authorization: Bearer <token>'.")
    limiter = _failed_sign_ins(request)
    address = request.client.host if request.client else "unknown"
    keys = [f"addr:{address}", f"token:{credentials.credentials[:6]}"]
    now = time.monotonic()
    wait = limiter.wait_seconds(keys, now)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_failed_sign_ins",
            "Too many unrecognised tokens were sent from here; wait a minute and try again "
            "with a valid token.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    await read_outside_a_transaction(session)
    user = await repository.user_by_token(session, token=credentials.credentials)
    # End the read transaction now: a route must never hold the store while it waits on
    # Temporal (the worker's projection of that very case needs to write).
    await session.rollback()
    if user is None:
        limiter.failed(keys, now)
        raise _unauthorised("That token is not recognised.")
    return user


def require(*roles: str) -> Callable[..., Awaitable[User]]:
    """A dependency that lets only ``roles`` through."""

    async def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if user.role not in roles:
            raise ApiError(403, "forbidden", f"A {user.role} user cannot do this.")
        return user

    return dependency


Reader = Annotated[User, Depends(require(Role.CASEWORKER, Role.MANAGER, Role.ADMIN))]
Writer = Annotated[User, Depends(require(Role.CASEWORKER, Role.ADMIN))]
