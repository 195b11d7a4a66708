"""The managers' page over HTTP: the 20-week share against England's and the council's own
published figure, and only for managers."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.api.test_pages import form_token, make_staff
from tests.api.test_team_portal import client
from tests.conftest import StackMaker


async def test_the_20_week_share_is_set_against_england_and_the_councils_published_figure(
    ts_env: WorkflowEnvironment, stacks: StackMaker
) -> None:
    async with stacks(ts_env, la_number="390") as stack:
        http = client(stack)
        page = await http.get("/sign-in")
        signed = await http.post(
            "/sign-in",
            data={
                "csrf_token": form_token(page.text),
                "email": await make_staff(stack, role="manager"),
                "password": "correct horse battery staple",
                "next": "/manager",
            },
        )
        assert signed.status_code == 303
        text = (await http.get("/manager")).text
        assert "45.9% with exceptions; 46.4% excluding exceptions" in text  # England, 2024
        assert "Gateshead: 82.3% with exceptions; 80.8% excluding exceptions" in text
        assert "timeliness_20_week.csv" in text


async def test_a_caseworker_cannot_see_the_managers_page(
    ts_env: WorkflowEnvironment, stacks: StackMaker
) -> None:
    async with stacks(ts_env) as stack:
        http = client(stack)
        page = await http.get("/sign-in")
        await http.post(
            "/sign-in",
            data={
                "csrf_token": form_token(page.text),
                "email": await make_staff(stack),
                "password": "correct horse battery staple",
            },
        )
        assert (await http.get("/manager")).status_code == 403
        assert (await http.get("/manager/breached")).status_code == 403
