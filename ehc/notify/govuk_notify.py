"""GOV.UK Notify, through its official client (synchronous and not thread-safe: one client
per call, in a worker thread). One generic email template carries ((subject)) and ((body))."""

from __future__ import annotations

import asyncio

import requests
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from ehc.notify.base import Email, PermanentSendError, RetryableSendError

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class NotifySender:
    channel = "govuk_notify"

    def __init__(self, api_key: str, template_id: str, base_url: str) -> None:
        self.api_key = api_key
        self.template_id = template_id
        self.base_url = base_url

    def _send_blocking(self, email: Email) -> str | None:
        client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
            self.api_key, base_url=self.base_url, timeout=20
        )
        try:
            response = client.send_email_notification(  # type: ignore[no-untyped-call]
                email_address=email.to,
                template_id=self.template_id,
                personalisation={"subject": email.subject, "body": email.body},
                # A label for finding the message in Notify, not an idempotency key: the
                # ledger records the returned id before anything can retry.
                reference=email.key,
            )
        except HTTPError as exc:
            if exc.status_code in RETRYABLE_STATUS:
                raise RetryableSendError(f"Notify {exc.status_code}") from exc
            raise PermanentSendError(f"Notify {exc.status_code}") from exc
        except requests.RequestException as exc:
            raise RetryableSendError(type(exc).__name__) from exc
        notification_id = response.get("id") if isinstance(response, dict) else None
        return str(notification_id) if notification_id else None

    async def send(self, email: Email) -> str | None:
        return await asyncio.to_thread(self._send_blocking, email)
