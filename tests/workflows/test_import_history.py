"""An imported case's history in the workflow's input (patch ``bulk-history-at-start``).

The importer checks each row before anything is written (``tests/cli/test_import.py``);
the workflow checks the events again with the same validators, on a copy of the facts, so
a history it is handed with a bad event in the middle is refused whole: the workflow
fails with the reason and projects nothing, not even the events before the bad one.
"""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from api import temporal_gateway
from ehc.models import (
    AssessmentInput,
    DecisionToAssess,
    DecisionToIssue,
    DraftPlan,
    ImportedEvent,
    RequestedBy,
)
from ehc.store import repository
from tests.api.scenarios import weeks
from tests.conftest import Stack, unique_ref


async def test_a_history_with_a_bad_event_in_the_middle_is_refused_whole(
    ts_stack: Stack,
) -> None:
    s = ts_stack
    day0 = await s.today() - weeks(16)
    ref = unique_ref("IMPW")
    history = [
        ImportedEvent(
            update="decision_to_assess",
            command=DecisionToAssess(decision="assess", decided_on=day0 + weeks(5)),
        ),
        # A draft before any decision to issue: the draft plan update would refuse it.
        ImportedEvent(update="draft_plan", command=DraftPlan(served_on=day0 + weeks(10))),
        ImportedEvent(
            update="decision_to_issue",
            command=DecisionToIssue(decision="issue", decided_on=day0 + weeks(12)),
        ),
    ]
    case = AssessmentInput(
        case_ref=ref,
        received_on=day0,
        requested_by=RequestedBy.PARENT,
        entered_by="import",
        opened_at=s.clock(),
        history=history,
    )
    s.case_refs.append(ref)

    await temporal_gateway.start_assessment(s.env.client, case, s.task_queue)

    with pytest.raises(WorkflowFailureError) as failed:
        await temporal_gateway.handle(s.env.client, ref).result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "import_refused"
    assert "imported event 2 (draft_plan)" in cause.message
    assert "decision to issue" in cause.message
    async with s.sessions() as session:  # nothing projected: not even the first event
        assert (
            await repository.count_events_entered_by(session, case_refs=[ref], entered_by="import")
            == {}
        )
