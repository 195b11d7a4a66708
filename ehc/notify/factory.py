"""The channel the settings choose."""

from __future__ import annotations

from ehc.notify.base import EmailSender
from ehc.notify.govuk_notify import NotifySender
from ehc.notify.smtp import SmtpSender
from ehc.settings import Settings


def make_sender(settings: Settings) -> EmailSender:
    if settings.email_channel == "govuk_notify":
        if not settings.notify_api_key or not settings.notify_template_id:
            raise ValueError("GOV.UK Notify needs EHC_NOTIFY_API_KEY and EHC_NOTIFY_TEMPLATE_ID")
        return NotifySender(
            settings.notify_api_key, settings.notify_template_id, settings.notify_base_url
        )
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
