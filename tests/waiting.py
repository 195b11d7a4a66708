"""Bounded waiting for the tests: one way to wait for something that happens a moment later.

Every polling loop in the suite goes through :func:`eventually` (async) or
:func:`eventually_sync` (threads and subprocesses). Both give up after ``timeout`` seconds and
fail with the last value they saw, so a test that waits for the wrong thing says what it got
instead of hanging or failing with a bare ``assert False``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


class NeverHappened(AssertionError):
    """What a test gets when the thing it waited for did not happen in time."""


def _fail(what: str, timeout: float, last: object) -> NeverHappened:
    return NeverHappened(f"{what or 'condition'} not met within {timeout:g} s; last saw {last!r}")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool] = ...,
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    what: str = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    until: Callable[[T], bool] = ...,
    timeout: float = ...,  # noqa: ASYNC109
    interval: float = ...,
    what: str = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    until: Callable[[Any], bool] = bool,
    timeout: float = 10.0,  # noqa: ASYNC109 (a bound on polling, not on one await)
    interval: float = 0.1,
    what: str = "",
) -> Any:
    """Call ``check`` (a function or a coroutine function) until ``until(value)`` holds and
    return that value; fail after ``timeout`` seconds with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise _fail(what, timeout, value)
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float = 10.0,
    interval: float = 0.1,
    what: str = "",
) -> T:
    """:func:`eventually` for code outside an event loop (threads, subprocesses)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise _fail(what, timeout, value)
        time.sleep(interval)
