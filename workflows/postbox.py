"""A recipient's postbox for one day, id ``postbox-{batch}``: the digest.

Chasing workflows whose agency asks for digests queue their notices instead of sending
them; the first one of the day opens the postbox. It waits a short window for the day's
other notices to that recipient, then sends them as one message (a single notice goes out as
it is), retrying on a durable timer with backoff like any notice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities

COLLECT_WINDOW = timedelta(minutes=10)
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=2,
    non_retryable_error_types=["PermanentSendError"],
)


def postbox_id(batch: str) -> str:
    return f"postbox-{batch}"


@workflow.defn(name="Postbox")
class PostboxWorkflow:
    @workflow.run
    async def run(self, batch: str) -> None:
        await workflow.sleep(COLLECT_WINDOW)
        backoff = FIRST_BACKOFF
        while True:
            try:
                await workflow.execute_activity_method(
                    NotificationActivities.send_batch,
                    batch,
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=SEND_RETRY,
                )
                return
            except ActivityError as err:
                cause = err.cause
                if isinstance(cause, ApplicationError) and cause.non_retryable:
                    workflow.logger.warning("batch_not_sent")
                    return
                await workflow.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
