"""The statutory calculator: every due date for a case with a given Day 0."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.errors import ApiError
from ehc.statutory import Anchor, NoRuleVersion
from ehc.timescales_view import TimescalesView, timescales_view

router = APIRouter(tags=["timescales"])


@router.get(
    "/timescales",
    summary="Statutory due dates and targets for a Day 0",
    response_model=TimescalesView,
)
async def get_timescales(
    received_on: Annotated[
        date, Query(description="Day 0: the date the request was received", examples=["2024-09-02"])
    ],
    anchor: Annotated[Anchor, Query(description="What Day 0 is")] = Anchor.REQUEST,
) -> TimescalesView:
    try:
        return timescales_view(received_on, anchor)
    except NoRuleVersion as exc:
        raise ApiError(422, "before_regulations", str(exc)) from exc
