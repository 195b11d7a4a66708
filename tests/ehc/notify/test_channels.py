"""The email channels against real servers: SMTP (aiosmtpd) and a local stand-in for
GOV.UK Notify that checks the client's JWT as Notify does (never the real service)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ehc.notify.base import Email, PermanentSendError, RetryableSendError
from ehc.notify.govuk_notify import NotifySender
from ehc.notify.smtp import SmtpSender
from tests.conftest import MailServer, free_port
from tests.waiting import eventually_sync

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"ehc_test-{SERVICE_ID}-{SECRET}"
EMAIL = Email(
    to="paediatrics.send@nhs.example",
    subject="Advice requested",
    body="Case X",
    key="X-adv1:1:request",
)


class FakeNotify:
    """POST /v2/notifications/email, with Notify's authentication rules."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.port = free_port()

    async def email(self, request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], options={"require": ["iss", "iat"]}
            )
        except jwt.PyJWTError as exc:
            return JSONResponse({"errors": [{"error": "AuthError", "message": str(exc)}]}, 403)
        fresh = abs(time.time() - claims["iat"]) <= 30
        if scheme != "Bearer" or claims["iss"] != SERVICE_ID or not fresh:
            return JSONResponse({"errors": [{"error": "AuthError", "message": "bad"}]}, 403)
        if self.fail_with:
            return JSONResponse({"errors": [{"error": "Error", "message": "x"}]}, self.fail_with)
        self.received.append(await request.json())
        return JSONResponse({"id": str(uuid.uuid4()), "reference": None}, 201)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v2/notifications/email", self.email, methods=["POST"])])


@pytest.fixture(scope="module")
def notify() -> Iterator[FakeNotify]:
    fake = FakeNotify()
    server = uvicorn.Server(uvicorn.Config(fake.app(), port=fake.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually_sync(lambda: server.started, timeout=10, what="the fake Notify server to start")
    yield fake
    server.should_exit = True
    thread.join(timeout=5)


def sender(fake: FakeNotify, key: str = API_KEY) -> NotifySender:
    return NotifySender(key, "template-1", f"http://127.0.0.1:{fake.port}")


async def test_notify_sends_with_a_valid_jwt_and_returns_its_id(notify: FakeNotify) -> None:
    notify.fail_with = None
    provider_id = await sender(notify).send(EMAIL)
    assert provider_id is not None
    sent = notify.received[-1]
    assert sent["template_id"] == "template-1"
    assert sent["email_address"] == EMAIL.to
    assert sent["personalisation"] == {"subject": EMAIL.subject, "body": EMAIL.body}
    assert sent["reference"] == EMAIL.key


async def test_a_wrong_key_is_permanent_and_an_outage_is_retryable(notify: FakeNotify) -> None:
    notify.fail_with = None
    wrong = f"ehc_test-{SERVICE_ID}-{uuid.uuid4()}"
    with pytest.raises(PermanentSendError):
        await sender(notify, wrong).send(EMAIL)
    notify.fail_with = 503
    with pytest.raises(RetryableSendError):
        await sender(notify).send(EMAIL)
    notify.fail_with = 400
    with pytest.raises(PermanentSendError):
        await sender(notify).send(EMAIL)
    notify.fail_with = None


async def test_notify_down_altogether_is_retryable() -> None:
    closed = NotifySender(API_KEY, "template-1", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(RetryableSendError):
        await closed.send(EMAIL)


async def test_smtp_delivers_with_the_notice_key(mail_server: MailServer) -> None:
    smtp = SmtpSender("127.0.0.1", mail_server.port, "send@council.example")
    await smtp.send(EMAIL)
    got = [m for m in mail_server.messages if m.key == EMAIL.key]
    assert got
    assert got[-1].to == [EMAIL.to]


async def test_smtp_down_is_retryable() -> None:
    smtp = SmtpSender("127.0.0.1", free_port(), "send@council.example")
    with pytest.raises(RetryableSendError):
        await smtp.send(EMAIL)
