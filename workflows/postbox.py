"""A recipient's postbox for one day, id ``postbox-{batch}``: the digest.

Chasing workflows whose agency asks for digests queue their notices instead of sending
them; the first one of the day opens the postbox. It waits a short window for the day's
other notices to that recipient, then sends them as one message (a single notice goes out as
it is), retrying on a durable timer with backoff like any notice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from workflows.notice_retry import FIRST_BACKOFF, SEND_RETRY, failed_for_good, next_backoff

COLLECT_WINDOW = timedelta(minutes=10)


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
                if failed_for_good(err):
                    workflow.logger.warning("batch_not_sent")
                    return
                await workflow.sleep(backoff)
                backoff = next_backoff(backoff)
