"""SMTP: councils relay through Exchange, NHS teams are on NHSmail."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from ehc.notify.base import Email, PermanentSendError, RetryableSendError


class SmtpSender:
    channel = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def _message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        if email.cc:
            message["Cc"] = ", ".join(email.cc)
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False)
        # The same notice always carries the same id, so mail clients fold any duplicate.
        message["Message-ID"] = f"<{email.key.replace(':', '.')}@ehc-timeliness>"
        message["X-EHC-Notice"] = email.key
        message.set_content(email.body)
        return message

    def _send_blocking(self, email: Email) -> None:
        message = self._message(email)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentSendError("every recipient was refused") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentSendError(f"SMTP {exc.smtp_code}") from exc
            raise RetryableSendError(f"SMTP {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableSendError(type(exc).__name__) from exc

    async def send(self, email: Email) -> str | None:
        await asyncio.to_thread(self._send_blocking, email)
        return None
