"""One retry policy for notices, used by the chasing workflow and the postbox.

A send is tried twice at once (``SEND_RETRY``); after that the workflow waits on a durable
timer with backoff (5 minutes, doubling to an hour) and tries again until it is sent or it
fails for good. The waits are in the history, where anyone can see them. The workflows keep
that loop rather than an unlimited Temporal ``RetryPolicy``: the chasing workflow must stop
retrying when its request closes, which only the workflow knows, and recorded histories
hold the timers.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from ehc.notify.base import PermanentSendError

# The error type the notification activities raise for a notice that can never go out
# (the mail server refused the address for good, the team left the directory).
PERMANENT_SEND_ERROR = PermanentSendError.__name__

SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=2,
    non_retryable_error_types=[PERMANENT_SEND_ERROR],
)
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


def failed_for_good(err: ActivityError) -> bool:
    """The send failed permanently: retrying later cannot help."""
    cause = err.cause
    return isinstance(cause, ApplicationError) and (
        cause.non_retryable or cause.type == PERMANENT_SEND_ERROR
    )


def next_backoff(backoff: timedelta) -> timedelta:
    """The wait after ``backoff``: doubled, at most an hour."""
    return min(backoff * 2, MAX_BACKOFF)
