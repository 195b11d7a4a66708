"""The one interface every channel implements, and the errors that tell retry from give-up.

As in GOV.UK Notify's own API client: a *retryable* error (the server is down, a 4xx SMTP
reply, a timeout) is tried again with backoff; a *permanent* one (an address refused, a
bad API key) is recorded and not retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Email:
    """A message with no personal data: case reference, what is asked, by when, how."""

    to: str
    subject: str
    body: str
    key: str
    cc: tuple[str, ...] = ()
    personalisation: dict[str, str] = field(default_factory=dict)


class RetryableSendError(Exception):
    """Try again later: the channel is unavailable or answered 'not now'."""


class PermanentSendError(Exception):
    """Do not retry: this message can never be delivered as it is."""


class EmailSender(Protocol):
    channel: str

    async def send(self, email: Email) -> str | None:
        """Deliver ``email``; return the provider's id for it, if any."""
        ...
