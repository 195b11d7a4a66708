"""Managers' pages: the Timeliness and Advice figures as server-rendered bar charts (no
JavaScript, no Docker), each number a link to the cases or requests behind it.

Every figure is read with the store queries the Prometheus collector uses
(``ehc.store.metrics_queries``); each list behind a figure is that module's list with the
same predicate, so a count and its list cannot disagree.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep, TodayDep
from api.pages.render import render
from api.webauth import PageError, WebUser, WebUserDep
from ehc import published
from ehc.models import Role
from ehc.store import metrics_queries as mq
from ehc.store import page_queries

router = APIRouter(include_in_schema=False)
DUE_SOON_DAYS = 14
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


def _manager(user: WebUser) -> None:
    if user.user.role not in MANAGERS:
        raise PageError(
            403, "You cannot see the managers' pages", f"A {user.user.role} user cannot."
        )


def bars(items: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    """Rows for a bar chart: label, count, link, and the bar's width out of 100."""
    top = max((n for _, n, _ in items), default=0) or 1
    return [
        {"label": label, "count": n, "href": href, "width": round(100 * n / top)}
        for label, n, href in items
    ]


def _pct(within: int, issued: int) -> float | None:
    return round(100 * within / issued, 1) if issued else None


@router.get("/manager")
async def manager_page(
    request: Request, user: WebUserDep, session: SessionDep, settings: SettingsDep, today: TodayDep
) -> HTMLResponse:
    _manager(user)
    stages = await mq.open_assessments_by_stage(session)
    _, _, breached = await mq.limits_by_status(
        session, today=today, at_risk_days=settings.at_risk_days
    )
    due_soon = await mq.limits_due_within(session, today=today, days=DUE_SOON_DAYS)
    _, overdue_agency = await mq.advice_by_agency(session, today=today)
    overdue_team = await mq.advice_overdue_by_team(session, today=today)
    issued, within = await mq.plans_within_20_weeks(session, today=today)
    await session.rollback()
    council = published.council(settings.la_number)
    share = {
        "with": _pct(within["included"], issued["included"]),
        "without": _pct(within["excluded"], issued["excluded"]),
        "issued": issued,
        "within": within,
        "england": published.ENGLAND,
        "council": council,
        "source": published.SOURCE,
    }
    return render(
        request,
        "manager.html",
        {
            "title": "Managers' figures",
            "user": user,
            "today": today,
            "stages": bars(
                [(s, n, "/cases?" + urlencode({"stage": s})) for s, n in stages.items()]
            ),
            "breached": bars(
                [
                    (lim, n, "/manager/breached?" + urlencode({"limit": lim}))
                    for lim, n in breached.items()
                ]
            ),
            "breached_total": sum(breached.values()),
            "due_soon": bars(
                [
                    (lim, n, "/manager/due-soon?" + urlencode({"limit": lim}))
                    for lim, n in due_soon.items()
                ]
            ),
            "due_soon_days": DUE_SOON_DAYS,
            "overdue_agency": bars(
                [
                    (a, n, "/manager/overdue-advice?" + urlencode({"agency": a}))
                    for a, n in overdue_agency.items()
                ]
            ),
            "overdue_team": bars(
                [
                    (
                        f"{team} ({agency.replace('_', ' ')})",
                        n,
                        "/manager/overdue-advice?" + urlencode({"agency": agency, "team": team}),
                    )
                    for (agency, team), n in sorted(overdue_team.items())
                ]
            ),
            "share": share,
        },
    )


async def _list_page(
    request: Request,
    user: WebUser,
    session: SessionDep,
    *,
    title: str,
    rows: list[dict[str, Any]],
    columns: list[str],
) -> HTMLResponse:
    names = await page_queries.child_names(session, case_refs=[r["case_ref"] for r in rows])
    await session.rollback()
    for r in rows:
        r["child"] = names.get(r["case_ref"], "")
    return render(
        request,
        "manager_list.html",
        {"title": title, "user": user, "rows": rows, "columns": columns},
    )


@router.get("/manager/breached")
async def breached_list(
    request: Request, user: WebUserDep, session: SessionDep, limit: str | None = None
) -> HTMLResponse:
    _manager(user)
    found = await mq.breached_limits(session, limit=limit)
    rows = [
        {"case_ref": r.case_ref, "what": r.limit, "due_on": r.due_on, "regulation": r.regulation}
        for r in found
    ]
    title = f"Breached: {limit.replace('_', ' ')}" if limit else "Breached limits"
    return await _list_page(
        request, user, session, title=title, rows=rows, columns=["Limit", "Due", "Rule"]
    )


@router.get("/manager/due-soon")
async def due_soon_list(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    today: TodayDep,
    limit: str | None = None,
) -> HTMLResponse:
    _manager(user)
    found = await mq.limits_due_within_list(session, today=today, days=DUE_SOON_DAYS, limit=limit)
    rows = [
        {"case_ref": r.case_ref, "what": r.limit, "due_on": r.due_on, "regulation": r.regulation}
        for r in found
    ]
    return await _list_page(
        request,
        user,
        session,
        title=f"Limits falling due in the next {DUE_SOON_DAYS} days",
        rows=rows,
        columns=["Limit", "Due", "Rule"],
    )


@router.get("/manager/overdue-advice")
async def overdue_advice_list(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    today: TodayDep,
    agency: str | None = None,
    team: str | None = None,
) -> HTMLResponse:
    _manager(user)
    found = await mq.overdue_advice(session, today=today, agency=agency, team=team)
    rows = [
        {
            "case_ref": r.case_ref,
            "what": f"{r.agency.replace('_', ' ')}: {r.team or 'no team'}",
            "due_on": r.due_on,
            "regulation": r.regulation,
        }
        for r in found
    ]
    scope = " ".join(x for x in (agency and agency.replace("_", " "), team) if x)
    return await _list_page(
        request,
        user,
        session,
        title=f"Overdue advice{': ' + scope if scope else ''}",
        rows=rows,
        columns=["Advice from", "Due", "Rule"],
    )
