"""Reports for managers: the SEN2 statutory return and DfE's timeliness measures.

Both read the case store only, and only a manager (or admin) may fetch them: the SEN2
return holds children's personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.deps import SessionDep, SettingsDep, require
from api.errors import ApiError
from ehc.models import Role, User
from ehc.reports.sen2 import Sen2Summary
from ehc.reports.service import (
    Sen2HeaderMissing,
    report_la,
    sen2_export,
    sen2_header,
    timeliness_report,
)
from ehc.reports.timeliness import Section, TimelinessReport, to_csv
from ehc.settings import OfficerFlag

router = APIRouter(prefix="/reports", tags=["reports"])
Manager = Annotated[User, Depends(require(Role.MANAGER, Role.ADMIN))]
LaParam = Annotated[
    str | None,
    Query(pattern=r"^\d{3}$", description="DfE's 3-digit LA number (default EHC_LA_NUMBER)"),
]

SEN2_DESCRIPTION = """
The SEN2 person-level return for collection year `year` (SEN2 2025 covers requests active
in calendar year 2024, as they stood on 31 December 2024), as XML valid against the SEN2
2024 schema.

A case that cannot be exported (a missing or wrong SEN2 field on the child) is left out,
never written as invalid XML. The response says how many: headers `X-SEN2-Exported` and
`X-SEN2-Skipped`. Ask again with `problems=true` for the list of cases left out and why,
as JSON. If no case at all can be exported the answer is 422 with that list.
"""


@router.get(
    "/sen2",
    summary="Download the SEN2 return (XML), or with problems=true the cases left out (JSON)",
    description=SEN2_DESCRIPTION,
    responses={
        200: {
            "content": {"application/xml": {}},
            "description": "The return, or the problems as JSON",
        }
    },
    response_model=None,
)
async def sen2(
    user: Manager,
    session: SessionDep,
    settings: SettingsDep,
    year: Annotated[int, Query(ge=2015, le=2100, description="Collection year, e.g. 2025")],
    la: LaParam = None,
    dmo: Annotated[OfficerFlag | None, Query(description="Default EHC_SEN2_DMO")] = None,
    dco: Annotated[OfficerFlag | None, Query(description="Default EHC_SEN2_DCO")] = None,
    problems: Annotated[bool, Query(description="Return the cases left out, as JSON")] = False,
) -> Response:
    try:
        header = sen2_header(settings, la=la, dmo=dmo, dco=dco)
    except Sen2HeaderMissing as e:
        raise ApiError(
            422,
            "not_configured",
            "The SEN2 header needs the LA number and the DMO and DCO answers: set "
            "EHC_LA_NUMBER, EHC_SEN2_DMO and EHC_SEN2_DCO, or send la, dmo and dco.",
        ) from e
    result = await sen2_export(session, year=year, header=header)
    summary: Sen2Summary = result.summary
    counts = {
        "X-SEN2-Exported": str(summary.exported),
        "X-SEN2-Skipped": str(summary.skipped),
        "Cache-Control": "no-store",  # the return holds children's personal data
    }
    if problems:
        return JSONResponse(summary.model_dump(mode="json"), headers=counts)
    if result.xml is None:
        return JSONResponse(
            {
                "error": "nothing_to_export",
                "detail": f"No request active in {year - 1} could be exported; the problems "
                "list says why for each case.",
                "problems": summary.model_dump(mode="json")["problems"],
            },
            status_code=422,
            headers=counts,
        )
    filename = f"SEN2_{year}_{header.la_number}.xml"
    return Response(
        result.xml,
        media_type="application/xml",
        headers={**counts, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/timeliness",
    summary="DfE's timeliness measures for a period (JSON, or one section as CSV)",
    response_model=TimelinessReport,
    responses={200: {"content": {"text/csv": {}}}},
)
async def timeliness(
    user: Manager,
    session: SessionDep,
    settings: SettingsDep,
    start: Annotated[date, Query(alias="from", description="First day, YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="Last day, YYYY-MM-DD")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    section: Annotated[Section, Query(description="The table returned as CSV")] = (
        "timeliness_20_week"
    ),
    la: LaParam = None,
) -> Response | TimelinessReport:
    if end < start:
        raise ApiError(422, "invalid_period", "'to' is before 'from'.")
    report = await timeliness_report(session, start=start, end=end, la_code=report_la(settings, la))
    if format == "json":
        return report
    filename = f"{section}_{report.time_period.replace('/', '_')}.csv"
    return Response(
        to_csv(report, section),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
