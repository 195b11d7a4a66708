"""No child's name or date of birth reaches a log line or the metrics.

A whole case runs through the API on the time-skipping server with the project's logging
(structlog JSON, every stdlib record through the same processors, DEBUG so nothing is
filtered out). Every record the root logger sees is rendered with the project's own
formatter, and whatever was written to stdout or stderr is read too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from ehc.logging import configure_logging, get_logger
from tests.api.scenarios import weeks
from tests.conftest import Stack, unique_ref

CHILD = {"given_name": "Zephyrine", "family_name": "Quillfeather", "date_of_birth": "2014-07-19"}
PERSONAL = ("Zephyrine", "Quillfeather", "2014-07-19", "19/07/2014", "20140719")


class Lines(logging.Handler):
    """Keeps every record as the project's formatter renders it."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(fmt="json", level="DEBUG")
    formatter = root.handlers[0].formatter
    assert formatter is not None
    handler = Lines(formatter)
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()


async def test_a_full_case_logs_no_personal_data(
    clock_stack: Stack, log_lines: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    s = clock_stack
    get_logger("tests.logs").info("capture_check", case_ref="not-personal")
    day0 = await s.today() - weeks(19)
    ref = unique_ref("LOG")
    body = {
        "case_ref": ref,
        "received_on": day0.isoformat(),
        "requested_by": "parent",
        "child": CHILD,
    }
    assert (await s.post("/assessments", body)).status_code == 201
    # The same reference with a different child: refused, and the refusal is not logged
    # with the body.
    other = {**body, "child": {**CHILD, "given_name": "Zephyrina"}}
    assert (await s.post("/assessments", other)).status_code == 409
    # A malformed date of birth: the validation error must not echo the child into logs.
    bad = {**body, "case_ref": unique_ref("LOG"), "child": {**CHILD, "date_of_birth": "19/07/2014"}}
    assert (await s.post("/assessments", bad)).status_code == 422

    steps = [
        ("decision-to-assess", {"decision": "assess", "decided_on": (day0 + weeks(5)).isoformat()}),
    ]
    for path, payload in steps:
        r = await s.post(f"/assessments/{ref}/{path}", payload)
        assert r.status_code == 200, r.text
    r = await s.post(
        f"/assessments/{ref}/advice-requests",
        {"agency": "health", "requested_on": (day0 + weeks(5)).isoformat()},
    )
    assert r.status_code == 201, r.text
    advice_id = r.json()["id"]
    r = await s.post(
        f"/advice-requests/{advice_id}/received", {"received_on": (day0 + weeks(10)).isoformat()}
    )
    assert r.status_code == 200, r.text
    for path, payload in [
        ("decision-to-issue", {"decision": "issue", "decided_on": (day0 + weeks(12)).isoformat()}),
        ("draft-plan", {"served_on": (day0 + weeks(14)).isoformat()}),
        ("final-plan", {"issued_on": (day0 + weeks(18)).isoformat()}),
    ]:
        r = await s.post(f"/assessments/{ref}/{path}", payload)
        assert r.status_code == 200, r.text
    assert r.json()["stage"] == "plan_issued"
    case = await s.get(f"/assessments/{ref}")
    assert case.json()["child"]["given_name"] == CHILD["given_name"]  # the API shows it
    await s.sleep(weeks(6))  # the grace period runs out; the workflow finishes

    metrics = (await s.http.get("/metrics")).text
    captured = capfd.readouterr()
    everything = "\n".join([*log_lines, captured.out, captured.err])

    assert any("capture_check" in line for line in log_lines), "the log capture saw nothing"
    assert len(log_lines) > 10
    assert "ehc_limits_breached" in metrics
    for secret in PERSONAL:
        assert secret not in everything, f"{secret!r} reached the logs"
        assert secret not in metrics, f"{secret!r} reached the metrics"
    assert ref not in metrics, "a case reference reached the metrics"
