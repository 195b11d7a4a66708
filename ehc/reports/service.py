"""Reports read from a store session: shared by the API routes and the ``ehc`` command."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ehc.reports.sen2 import OfficerFlag, Sen2Export, build_sen2, collection_period
from ehc.reports.timeliness import TimelinessReport, build_report
from ehc.store import report_queries


async def sen2_export(
    session: AsyncSession,
    *,
    year: int,
    la_number: str,
    dmo: OfficerFlag,
    dco: OfficerFlag,
    generated_at: datetime | None = None,
) -> Sen2Export:
    _, end = collection_period(year)
    cases = await report_queries.cases_received_by(session, on_or_before=end)
    children = await report_queries.children_received_by(session, on_or_before=end)
    return build_sen2(
        cases, children, year=year, la_number=la_number, dmo=dmo, dco=dco, generated_at=generated_at
    )


async def timeliness_report(
    session: AsyncSession, *, start: date, end: date, la_code: str | None = None
) -> TimelinessReport:
    cases = await report_queries.cases_received_by(session, on_or_before=end)
    extras = await report_queries.child_extras_received_between(session, start=start, end=end)
    advice = await report_queries.advice_requests_by(session, on_or_before=end)
    return build_report(cases, extras, advice, start=start, end=end, la_code=la_code)
