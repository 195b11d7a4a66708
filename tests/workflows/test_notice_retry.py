"""One decision for every notice: what fails for good, and how long to wait before retrying."""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from activities.notifications import PERMANENT
from workflows import advice, postbox
from workflows.notice_retry import SEND_RETRY, failed_for_good, next_backoff


def _failed(cause: Exception) -> ActivityError:
    err = ActivityError(
        "send failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="send_notice",
        activity_id="1",
        retry_state=RetryState.MAXIMUM_ATTEMPTS_REACHED,
    )
    err.__cause__ = cause
    return err


def test_a_refused_address_fails_for_good_and_an_outage_is_retried() -> None:
    refused = ApplicationError("550 no such user", type=PERMANENT, non_retryable=True)
    outage = ApplicationError("connection refused", type="RetryableSendError")
    assert failed_for_good(_failed(refused))
    assert not failed_for_good(_failed(outage))


def test_the_chasing_workflow_and_the_postbox_retry_alike() -> None:
    assert vars(advice)["SEND_RETRY"] is vars(postbox)["SEND_RETRY"] is SEND_RETRY
    assert PERMANENT in (SEND_RETRY.non_retryable_error_types or ())
    waits, backoff = [], timedelta(minutes=5)
    for _ in range(6):
        waits.append(backoff)
        backoff = next_backoff(backoff)
    assert [w.total_seconds() / 60 for w in waits] == [5, 10, 20, 40, 60, 60]
