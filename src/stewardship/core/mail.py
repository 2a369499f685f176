"""Sending e-mail: through SMTP when a server is configured, else into an outbox folder.

In development and tests without ``smtp_host``, each message is written to
``var_dir/outbox/`` as an ``.eml`` file (open it in any mail client, or read the link
out of it), so that ``make run`` works without a mail server. In production a message
without a configured server is an error, never silently dropped.
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from stewardship.core.config import Settings
from stewardship.core.db import utcnow
from stewardship.core.errors import DomainError

SMTP_TIMEOUT_SECONDS = 10


class MailNotSent(DomainError):
    """The platform could not hand a message to its mail server."""

    status_code = 503
    code = "mail_not_sent"


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def outbox(self) -> Path:
        return self.settings.var_dir / "outbox"

    def compose(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="stewardship.invalid")
        message.set_content(body)
        return message

    def send(self, to: str, subject: str, body: str) -> None:
        """Send one plain-text message; raise MailNotSent when it cannot leave."""
        message = self.compose(to, subject, body)
        if not self.settings.smtp_host:
            if self.settings.environment == "production":
                raise MailNotSent("the platform has no mail server configured "
                                  "(STEWARDSHIP_SMTP_HOST); ask the secretariat")
            self._write_to_outbox(message)
            return
        try:
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port,
                              timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if self.settings.smtp_starttls:
                    smtp.starttls()
                if self.settings.smtp_username:
                    smtp.login(self.settings.smtp_username, self.settings.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"the message to {to} could not be sent; try again later "
                              f"({type(exc).__name__})") from exc

    def _write_to_outbox(self, message: EmailMessage) -> Path:
        self.outbox.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        path = self.outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(message.as_bytes())
        return path
