"""Reports read from a store session: shared by the API routes and the ``ehc`` command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ehc.reports.sen2 import Sen2Export, build_sen2, collection_period
from ehc.reports.timeliness import TimelinessReport, build_report
from ehc.settings import OfficerFlag, Settings
from ehc.store import report_queries


@dataclass(frozen=True)
class Sen2Header:
    """The council's answers in the SEN2 header: LA number, DMO and DCO."""

    la_number: str
    dmo: OfficerFlag
    dco: OfficerFlag


class Sen2HeaderMissing(ValueError):
    """The header lacks answers; ``missing`` names each as ``(parameter, variable)``."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        self.missing = missing
        super().__init__("the SEN2 header needs " + ", ".join(v for _, v in missing))


def sen2_header(
    settings: Settings,
    *,
    la: str | None = None,
    dmo: OfficerFlag | None = None,
    dco: OfficerFlag | None = None,
) -> Sen2Header:
    """The SEN2 header from what the caller gave, else the settings (``EHC_LA_NUMBER``,
    ``EHC_SEN2_DMO``, ``EHC_SEN2_DCO``): the one place the API and the ``ehc`` command
    work it out. Raises ``Sen2HeaderMissing`` naming what is not set, ``ValueError`` for
    an LA number that is not DfE's 3 digits."""
    la_number = la or settings.la_number
    dmo_flag = dmo or settings.sen2_dmo
    dco_flag = dco or settings.sen2_dco
    missing = [
        (name, variable)
        for name, variable, value in (
            ("la", "EHC_LA_NUMBER", la_number),
            ("dmo", "EHC_SEN2_DMO", dmo_flag),
            ("dco", "EHC_SEN2_DCO", dco_flag),
        )
        if not value
    ]
    if missing or not (la_number and dmo_flag and dco_flag):
        raise Sen2HeaderMissing(missing)
    if not (la_number.isdigit() and len(la_number) == 3):
        raise ValueError("the LA number must be DfE's 3-digit LA number, for example 390")
    return Sen2Header(la_number, dmo_flag, dco_flag)


def report_la(settings: Settings, la: str | None = None) -> str | None:
    """The LA number a report is labelled with: the caller's, else ``EHC_LA_NUMBER``."""
    return la or settings.la_number


async def sen2_export(
    session: AsyncSession,
    *,
    year: int,
    header: Sen2Header,
    generated_at: datetime | None = None,
) -> Sen2Export:
    _, end = collection_period(year)
    cases = await report_queries.cases_received_by(session, on_or_before=end)
    children = await report_queries.children_received_by(session, on_or_before=end)
    return build_sen2(
        cases,
        children,
        year=year,
        la_number=header.la_number,
        dmo=header.dmo,
        dco=header.dco,
        generated_at=generated_at,
    )


async def timeliness_report(
    session: AsyncSession, *, start: date, end: date, la_code: str | None = None
) -> TimelinessReport:
    cases = await report_queries.cases_received_by(session, on_or_before=end)
    extras = await report_queries.child_extras_received_between(session, start=start, end=end)
    advice = await report_queries.advice_requests_by(session, on_or_before=end)
    return build_report(cases, extras, advice, start=start, end=end, la_code=la_code)
